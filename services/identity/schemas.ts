// Request and response shapes of the identity routes; routes validate with them, services take
// their inferred types, and /openapi.json is generated from them.
import { z } from 'zod';
import { USER_ROLES } from '../../entities/identity/User.ts';

export const emailSchema = z
  .string()
  .trim()
  .max(254)
  .pipe(z.email({ message: 'must be a valid email address' }))
  .transform((e) => e.toLowerCase());

// Lower-case letters (any script), digits, dot and underscore: readable in @mentions and URLs.
export const usernameSchema = z
  .string()
  .trim()
  .min(3, 'must be at least 3 characters')
  .max(30, 'must be at most 30 characters')
  .transform((u) => u.toLowerCase())
  .pipe(z.string().regex(/^[\p{L}\p{N}_.]+$/u, 'may contain only letters, digits, "." and "_"'));

// Length is what makes a password strong; the upper bound keeps argon2 from being a DoS lever.
export const passwordSchema = z
  .string()
  .min(10, 'must be at least 10 characters')
  .max(128, 'must be at most 128 characters')
  .refine((p) => /\p{L}/u.test(p) && /\p{N}/u.test(p), 'must contain at least one letter and one digit')
  .refine((p) => new Set(p).size >= 5, 'is too repetitive');

// The app module a sign-in is for (e.g. "walk"): its session gets the token lifetimes that module
// declares. Unset: the platform's defaults. A name that is no listed module is a 400 on `app`.
export const appField = z
  .string()
  .regex(/^[a-z][a-z0-9_-]{0,19}$/, 'must be an app module name')
  .meta({ description: 'The app module this sign-in is for; its session gets that module\'s token lifetimes', example: 'coach' });

export const registerBody = z.object({ email: emailSchema, password: passwordSchema, username: usernameSchema, app: appField.optional() });
export type RegisterInput = z.infer<typeof registerBody>;

export const loginBody = z.object({ email: emailSchema, password: z.string().min(1).max(128), app: appField.optional() });
export type LoginInput = z.infer<typeof loginBody>;

export const refreshBody = z.object({ refreshToken: z.string().min(10).max(200) });

export const updateMeBody = z
  .object({
    username: usernameSchema.optional(),
    displayName: z.string().trim().min(1).max(50).nullable().optional(),
  })
  .refine((b) => Object.keys(b).length > 0, { message: 'at least one field is required' });
export type UpdateMeInput = z.infer<typeof updateMeBody>;

// Which token a provider takes is its `credential` (services/identity/oauth.ts): the service
// answers 400 on the field a provider needs and did not get.
export const oauthBody = z.object({
  idToken: z.string().min(20).max(8192).optional().meta({ description: 'google, apple: the id_token (a JWT)' }),
  accessToken: z.string().min(8).max(4096).optional().meta({ description: 'kakao, naver: the access token from the provider\'s SDK' }),
  nonce: z.string().min(8).max(512).optional().meta({ description: 'apple: the raw nonce; the id_token\'s nonce claim must be its SHA-256 (hex)' }),
  app: appField.optional(),
});
export type OAuthInput = z.infer<typeof oauthBody>;

export const oauthProviderParam = z.object({ provider: z.string().regex(/^[a-z]+$/) });

export const logoutBody = z.object({ allSessions: z.boolean().default(false) }).default({ allSessions: false });

export const userDto = z
  .object({
    id: z.uuid(),
    email: z.string().nullable(),
    username: z.string(),
    displayName: z.string().nullable(),
    role: z.enum(USER_ROLES),
    createdAt: z.string().meta({ example: '2026-11-22T09:00:00+09:00' }),
  })
  .meta({ id: 'User' });
export type UserDto = z.infer<typeof userDto>;

export const authResult = z
  .object({
    user: userDto,
    accessToken: z.string(),
    refreshToken: z.string(),
    accessTokenExpiresIn: z.number().int().meta({ description: 'seconds' }),
    refreshTokenExpiresIn: z.number().int().meta({ description: 'seconds' }),
  })
  .meta({ id: 'AuthResult' });
export type AuthResult = z.infer<typeof authResult>;
