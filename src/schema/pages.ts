// The user's lists are pages, newest first (the contract's "Lists"): `first` items (1 to 100,
// absent or null = 20) after the item whose id is `after`, ordered by (time, id) descending, so
// items of the same instant (one transaction) keep one order. Every rule of the arguments is
// here, for all the lists.
import { GraphQLError } from 'graphql';
import { isUuid } from '../domain/errors.ts';
import { builder } from './builder.ts';

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;

/** The arguments of every list: `first: Int = 20, after: ID`. */
export const pageArgs = builder.args((t) => ({
  first: t.int({ required: false, defaultValue: DEFAULT_PAGE_SIZE }),
  after: t.id({ required: false }),
}));

export interface PageArgs {
  first?: number | null;
  after?: string | null;
}

/** Where an item stands in its list: its time (createdAt, or queuedAt for deployments) and id. */
export interface Position {
  at: Date;
  id: string;
}

/** What a list's query needs: how many items, and the position they come after (null: from the newest). */
export interface Page {
  take: number;
  after: Position | null;
}

function badUserInput(message: string): never {
  throw new GraphQLError(message, { extensions: { code: 'BAD_USER_INPUT' } });
}

/**
 * Checks a list's arguments and finds where the page starts. `positionOf` looks the `after`
 * item up by its id among the list owner's items, not through the list's filter: an item that no
 * longer matches the filter (acknowledged, accepted meanwhile) still marks where the last page
 * ended.
 */
export async function pageOf(args: PageArgs, positionOf: (id: string) => Promise<Position | null>): Promise<Page> {
  const take = args.first ?? DEFAULT_PAGE_SIZE;
  if (take < 1 || take > MAX_PAGE_SIZE) badUserInput(`first must be between 1 and ${MAX_PAGE_SIZE} (it is ${take})`);
  if (args.after === null || args.after === undefined) return { take, after: null };
  const after = isUuid(args.after) ? await positionOf(args.after) : null;
  if (!after) badUserInput('after is not the id of an item of this list');
  return { take, after };
}

/** Newest first, the id breaking ties: the order of every page, and of the indexes that serve it. */
export function newestFirst<Time extends string>(time: Time) {
  return [{ [time]: 'desc' }, { id: 'desc' }] as [Record<Time, 'desc'>, { id: 'desc' }];
}

/**
 * The items after `position` in that order. The bound on the time alone (`lte`) is what makes the
 * page one index range scan from the position; the OR only drops the position's own instant up
 * to and including its id.
 */
export function olderThan<Time extends string>(time: Time, position: Position | null) {
  if (!position) return {};
  return {
    AND: [{ [time]: { lte: position.at } }, { OR: [{ [time]: { lt: position.at } }, { id: { lt: position.id } }] }],
  } as { AND: [Record<Time, { lte: Date }>, { OR: [Record<Time, { lt: Date }>, { id: { lt: string } }] }] };
}
