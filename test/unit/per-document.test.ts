// Work that does not depend on the request is done once per document text, whichever lookup
// produced the text; work that reads the variables is done for every request.
import { parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { oncePerDocument } from '../../src/api/per-document.ts';

const counting = () => {
  let calls = 0;
  return { compute: () => ++calls, calls: () => calls };
};

describe('oncePerDocument', () => {
  it('computes once for the same text, even parsed again (another lookup, another request)', () => {
    const text = `query A { me { id } } # ${Math.random()}`;
    const c = counting();
    const first = oncePerDocument('test', parse(text), 'A', c.compute);
    const second = oncePerDocument('test', parse(text), 'A', c.compute);
    expect(second).toBe(first);
    expect(c.calls()).toBe(1);
  });

  it('keeps the answers of different operations, purposes and texts apart', () => {
    const text = `query A { me { id } } query B { me { id } } # ${Math.random()}`;
    const c = counting();
    expect([
      oncePerDocument('test', parse(text), 'A', c.compute),
      oncePerDocument('test', parse(text), 'B', c.compute),
      oncePerDocument('other', parse(text), 'A', c.compute),
      oncePerDocument('test', parse(`${text} `), 'A', c.compute),
    ]).toEqual([1, 2, 3, 4]);
  });

  it('computes every time when a variable is a `first` (the cost reads it)', () => {
    const text = `query A($n: Int = 5) { offers(first: $n) { id } } # ${Math.random()}`;
    const c = counting();
    oncePerDocument('test', parse(text), 'A', c.compute);
    oncePerDocument('test', parse(text), 'A', c.compute);
    expect(c.calls()).toBe(2);
  });

  it('computes every time for a document without its text', () => {
    const document = parse('{ me { id } }', { noLocation: true });
    const c = counting();
    oncePerDocument('test', document, null, c.compute);
    oncePerDocument('test', document, null, c.compute);
    expect(c.calls()).toBe(2);
  });
});
