// Shared with the bench (`npm run bench -- --cluster`): the helper lives in scripts/support/.
export * from '../../scripts/support/throwaway-redis-cluster.ts';
