// Shared with the bench: the helper lives in scripts/support/.
export { freePort } from '../../scripts/support/free-port.ts';
