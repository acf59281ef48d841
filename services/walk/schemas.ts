// Shapes of the walk module's socket traffic on /walk: what clients send (validated at the edge) and
// every server event the module pushes (walkServerEvents, typed emits, documented in /openapi.json).
import { z } from 'zod';

// ---- Walking together ----

export const SESSION_SOURCES = ['direct', 'invitation', 'meetup'] as const;
export const CLOSE_REASONS = ['ended', 'everyone_left', 'walk_ended', 'abandoned'] as const;
// In an ack: invited (not there yet), active (joined, a position or a join within the stale window),
// stale (joined, silent for longer), left.
export const PARTICIPANT_STATES = ['invited', 'active', 'stale', 'left'] as const;
// As an event: joined (first time or back after leaving), active (back after being stale), stale, left.
export const PRESENCE_EVENTS = ['joined', 'active', 'stale', 'left'] as const;
// A session is the creator and 1..9 invitees: ten walkers at most.
export const MAX_INVITEES = 9;

const sessionId = z.uuid().meta({ example: '7d1c2a3b-4e5f-4a6b-8c7d-9e0f1a2b3c4d' });
const instant = z.string().meta({ description: 'ISO 8601 with the configured zone\'s offset' });

export const createSessionInput = z.object({
  invitees: z.array(z.uuid()).min(1).max(MAX_INVITEES)
    .refine((ids) => new Set(ids.map((id) => id.toLowerCase())).size === ids.length, 'Each invitee once')
    .meta({ description: 'The other walkers (user ids), 1 to 9', example: ['c0a8012e-7f5b-4a57-9b1d-1d2f3e4a5b6c'] }),
});
export type CreateSessionInput = z.output<typeof createSessionInput>;

export const sessionRef = z.object({ sessionId });

// A GPS fix. `t` is when it was taken (Unix epoch milliseconds); the service also refuses one far
// from its own clock. `accuracy` is the fix's horizontal accuracy in metres.
export const positionInput = z.object({
  sessionId,
  lat: z.number().min(-90).max(90).meta({ example: 37.5665 }),
  lng: z.number().min(-180).max(180).meta({ example: 126.978 }),
  t: z.number().int().min(946_684_800_000).max(4_102_444_800_000).meta({ description: 'When the fix was taken, Unix epoch ms', example: 1_795_000_000_000 }),
  accuracy: z.number().min(0).max(10_000).meta({ description: 'Horizontal accuracy in metres', example: 8 }),
});
export type PositionInput = z.output<typeof positionInput>;

// What the other walkers receive. Inside one of the sender's home zones the point is not the fix:
// it is the zone's centre snapped to a coarse grid, the same point for every fix in that zone, and
// `accuracy` is wide enough to cover the whole zone (blurred: true).
export const relayedPosition = z.object({
  sessionId: z.uuid(),
  userId: z.uuid(),
  lat: z.number(),
  lng: z.number(),
  t: z.number().int(),
  accuracy: z.number(),
  blurred: z.boolean(),
});
export type RelayedPosition = z.output<typeof relayedPosition>;

export const participantDto = z.object({
  userId: z.uuid(),
  status: z.enum(PARTICIPANT_STATES),
  joinedAt: instant.nullable(),
  leftAt: instant.nullable(),
});

export const sessionDto = z.object({
  id: z.uuid(),
  createdBy: z.uuid(),
  source: z.enum(SESSION_SOURCES),
  status: z.enum(['open', 'closed']),
  createdAt: instant,
  closedAt: instant.nullable(),
  closeReason: z.enum(CLOSE_REASONS).nullable(),
  participants: z.array(participantDto),
});
export type SessionDto = z.output<typeof sessionDto>;

export const walkServerEvents = {
  'session.invited': {
    summary: 'Someone started a walk-together session with you; join it with session.join { sessionId }',
    schema: z.object({ sessionId: z.uuid(), createdBy: z.uuid(), participants: z.array(z.uuid()), createdAt: instant }),
  },
  'session.presence': {
    summary: 'A walker of a session you joined: joined, active again (after being stale), stale (no position for the stale window, 30 s by default) or left',
    schema: z.object({ sessionId: z.uuid(), userId: z.uuid(), status: z.enum(PRESENCE_EVENTS), at: instant }),
  },
  // Not `position`: that is the client event's name, and one name per namespace carries one direction.
  'session.position': {
    summary: 'Another walker\'s position (at most 1 Hz each); blurred inside their home zones (the zone\'s centre on a coarse grid, accuracy covering the zone)',
    schema: relayedPosition,
  },
  'session.closed': {
    summary: 'A session you are in closed: ended by its creator, everyone left, the creator\'s walk ended, or everyone silent for too long',
    schema: z.object({ sessionId: z.uuid(), reason: z.enum(CLOSE_REASONS), at: instant }),
  },
};
