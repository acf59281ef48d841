// The platform's entities. A module lists its own in its definition (entities/<module>/index.ts).
import { CronRun } from './platform/CronRun.ts';
import { Identity } from './identity/Identity.ts';
import { RefreshToken } from './identity/RefreshToken.ts';
import { RefreshTokenFamily } from './identity/RefreshTokenFamily.ts';
import { User } from './identity/User.ts';
import { IdempotencyKey } from './billing/IdempotencyKey.ts';
import { Payment } from './billing/Payment.ts';
import { PaymentFailure } from './billing/PaymentFailure.ts';
import { PaymentProduct } from './billing/PaymentProduct.ts';
import { SandboxTransaction } from './billing/SandboxTransaction.ts';
import { Subscription } from './billing/Subscription.ts';
import { WebhookEvent } from './billing/WebhookEvent.ts';
import { Notification } from './notifications/Notification.ts';
import { NotificationDelivery } from './notifications/NotificationDelivery.ts';
import { NotificationSetting } from './notifications/NotificationSetting.ts';
import { PushToken } from './notifications/PushToken.ts';
import { SmsLog } from './sms/SmsLog.ts';
import { OfflineOutbox } from './platform/OfflineOutbox.ts';

export const entities = [User, Identity, RefreshTokenFamily, RefreshToken, CronRun,
  PaymentProduct, Payment, PaymentFailure, WebhookEvent, IdempotencyKey, Subscription, SandboxTransaction,
  Notification, NotificationDelivery, NotificationSetting, PushToken, SmsLog, OfflineOutbox];
