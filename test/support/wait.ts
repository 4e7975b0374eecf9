// Shared with the bench: the helper lives in scripts/support/.
export { waitUntil } from '../../scripts/support/wait.ts';
