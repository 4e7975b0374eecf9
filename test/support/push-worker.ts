// A worker process (the service's own code) whose pushes go to a test's fake FCM on
// FAKE_FCM_PORT: for tests that kill a worker in the middle of a send, and for the scale suite's
// workers. Spawned by `spawnPushWorker` (processes.ts). FAKE_FCM_KEEP_ALIVE=1 keeps its connections
// open between sends, as production's agent does (the campaign bench).
import { startService } from '../../src/service.ts';
import { fakeFcmMessaging } from './fake-fcm.ts';

const { messaging } = fakeFcmMessaging(Number(process.env.FAKE_FCM_PORT), undefined, process.env.FAKE_FCM_KEEP_ALIVE === '1');
const service = await startService({ api: false, worker: true, messaging });
process.on('SIGTERM', () => {
  void service.close().then(() => process.exit(0));
});
