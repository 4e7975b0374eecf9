// Work on a request's document that does not depend on the request, done once per document text:
// a persisted operation's text is fixed for its hash, so whatever looks the text up (the
// manifest, a registry, a cache in front of one), the answer computed for the first request is
// the answer for every later one. Only answers that cannot change with the variables are kept:
// a document with a variable as a list's `first` is computed every time (its cost reads it).
import { Kind, visit, type DocumentNode } from 'graphql';

/** Enough for every persisted operation many times over; staff's own documents come and go. */
const MAX_ENTRIES = 2_000;

const answers = new Map<string, unknown>();
const readsVariables = new WeakMap<DocumentNode, boolean>();

/** Whether the document passes a variable as a `first` argument (its cost then depends on the request). */
function firstFromVariables(document: DocumentNode): boolean {
  let known = readsVariables.get(document);
  if (known === undefined) {
    known = false;
    visit(document, {
      Argument(node) {
        if (node.name.value === 'first' && node.value.kind === Kind.VARIABLE) known = true;
      },
    });
    readsVariables.set(document, known);
  }
  return known;
}

/**
 * `compute()` for this document and operation, kept under `purpose` when the answer cannot change
 * with the request's variables; computed every time otherwise, or when the document has no text.
 */
export function oncePerDocument<T>(purpose: string, document: DocumentNode, operationName: string | null | undefined, compute: () => T): T {
  const text = document.loc?.source.body;
  if (text === undefined || firstFromVariables(document)) return compute();
  const key = `${purpose}\u0000${operationName ?? ''}\u0000${text}`;
  if (answers.has(key)) return answers.get(key) as T;
  const answer = compute();
  // Oldest first out: a Map iterates in insertion order.
  if (answers.size >= MAX_ENTRIES) answers.delete(answers.keys().next().value!);
  answers.set(key, answer);
  return answer;
}
