// Row locks held from another connection, as a long transaction elsewhere (a report, a migration) would.
import pg from 'pg';

/** Holds the user's profile row lock until `release`: the next apply attempt times out on it and retries. */
export async function lockProfile(databaseUrl: string, userId: string) {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  await client.query('BEGIN');
  await client.query('SELECT 1 FROM credit_profiles WHERE user_id = $1 FOR UPDATE', [userId]);
  return {
    async release() {
      await client.query('ROLLBACK');
      await client.end();
    },
  };
}
