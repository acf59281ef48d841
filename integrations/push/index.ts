// Push delivery to a device token. The notifications service decides whether to push; a driver
// only delivers one message to one token and says what happened.

export const PUSH_PLATFORMS = ['fcm', 'apns'] as const;
export type PushPlatform = (typeof PUSH_PLATFORMS)[number];

export type PushMessage = {
  token: string;
  title: string;
  body: string;
  // FCM carries only string values in `data`.
  data: Record<string, string>;
};

export type PushResult =
  | { outcome: 'sent'; messageId: string; offline: boolean }
  // The provider says the token no longer reaches an app install: the caller deletes it.
  | { outcome: 'token_unregistered'; code: string }
  | { outcome: 'failed'; code: string; retryable: boolean };

export type PushProvider = {
  name: 'fcm' | 'offline';
  offline: boolean;
  // The token platforms this driver can reach (FCM registration tokens; raw APNs tokens need an APNs driver).
  platforms: readonly PushPlatform[];
  send: (message: PushMessage) => Promise<PushResult>;
};
