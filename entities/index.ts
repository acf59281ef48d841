// Every entity the ORM knows about. A module adds its entities here.
import { CronRun } from './platform/CronRun.ts';
import { Identity } from './identity/Identity.ts';
import { RefreshToken } from './identity/RefreshToken.ts';
import { RefreshTokenFamily } from './identity/RefreshTokenFamily.ts';
import { User } from './identity/User.ts';

export const entities = [User, Identity, RefreshTokenFamily, RefreshToken, CronRun];
