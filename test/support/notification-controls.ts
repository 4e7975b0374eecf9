// The notification controls through the real API: preferences, devices' removal.
import { expect } from 'vitest';
import { gql } from './client.ts';

export const PREFERENCES_FIELDS = /* GraphQL */ `
  timeZone quietHours { enabled start end } channels { category channel enabled required }
`;

export const UPDATE_PREFERENCES = /* GraphQL */ `
  mutation Prefs($input: NotificationPreferencesInput!) {
    updateNotificationPreferences(input: $input) {
      __typename
      ... on UpdateNotificationPreferencesSuccess { preferences { ${PREFERENCES_FIELDS} } }
      ... on ValidationError { message field }
    }
  }
`;

export const MY_PREFERENCES = /* GraphQL */ `query MyPrefs { me { notificationPreferences { ${PREFERENCES_FIELDS} } } }`;

export const UNREGISTER_DEVICE = /* GraphQL */ `
  mutation Unregister($token: String!) {
    unregisterDevice(token: $token) {
      __typename
      ... on UnregisterDeviceSuccess { removed }
      ... on ValidationError { message field }
    }
  }
`;

export async function updatePreferences(url: string, userToken: string, input: Record<string, unknown>) {
  const result = await gql(url, UPDATE_PREFERENCES, { input }, userToken);
  expect(result.errors).toBeUndefined();
  return result.data.updateNotificationPreferences;
}

/** A user whose pushes go at any hour: no quiet hours, so a test does not depend on the time of day. */
export async function noQuietHours(url: string, userToken: string, channels: Record<string, unknown>[] = []) {
  const result = await updatePreferences(url, userToken, { quietHours: { enabled: false, start: '22:00', end: '08:00' }, channels });
  expect(result.__typename).toBe('UpdateNotificationPreferencesSuccess');
}

/** Offer notifications off on both channels: tests about other kinds see nothing of the offers they issue. */
export const OFFERS_OFF = [
  { category: 'OFFERS', channel: 'PUSH', enabled: false },
  { category: 'OFFERS', channel: 'IN_APP', enabled: false },
];

/** The notifications of a list that are not about offers (the offers a test issues have their own). */
export const notAboutOffers = (list: any[]) => list.filter((n) => !String(n.kind).startsWith('OFFER_'));
