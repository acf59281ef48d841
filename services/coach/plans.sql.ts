// The plan lookup's query, kept readable in one place. coach_profiles has a MikroORM entity
// (CoachProfile); every table read here does, so this file lists no entity-less table.

// The user's tier and when it lapses. Parameters: user id.
export const PLAN_OF_USER = 'select plan_tier, plan_expires_at from coach_profiles where user_id = ?';
