// A data subject's erasure request (LGPD; docs/data-retention.md says what is erased and what is
// kept, and why). An admin's command, run with the service's settings:
//   npm run erase-user -- --user <user id>
// Prints what was erased and what is kept for the regulatory period (for the answer to the data
// subject). An unknown user is an error that changes nothing; running it again erases nothing more.
import { NotFoundError } from '../src/domain/errors.ts';
import { eraseUserData } from '../src/domain/erasure.ts';
import { commandArguments, withService } from './operations-cli.ts';

const USAGE = 'usage: npm run erase-user -- --user <user id>';
const { values } = commandArguments({ user: { type: 'string' } }, USAGE);
if (!values.user) {
  console.error(USAGE);
  process.exit(2);
}
const userId = values.user;

await withService(async () => {
  const result = await eraseUserData(userId);
  if (result instanceof NotFoundError) {
    process.exitCode = 1;
    return console.error(`${result.message}: nothing erased`);
  }
  const { erased, kept } = result;
  console.log(
    `${userId} erased: ${erased.notifications} notifications, ${erased.devices} devices, ${erased.offers} offers never accepted, ` +
      `${erased.sentEvents} sent events, ${erased.preferences} preference rows; language preference cleared`,
  );
  console.log(
    `kept for the regulatory period: ${kept.consents} consents, ${kept.deployments} deployments with their audit trails, ` +
      `${kept.regulatoryNotices} regulatory notices` + (kept.unsentEvents > 0 ? `; ${kept.unsentEvents} events still to publish` : ''),
  );
  console.log(`the events' consumers are told to erase their copies: user.erased, the user's event ${result.erasureEventSequence}`);
});
