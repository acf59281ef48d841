// The coach's entities, listed in its module definition.
import { CoachAnswer } from './CoachAnswer.ts';
import { CoachPlan } from './CoachPlan.ts';
import { CoachProfile } from './CoachProfile.ts';
import { KbChunk } from './KbChunk.ts';
import { KbDocument } from './KbDocument.ts';
import { KbVersion } from './KbVersion.ts';

export const coachEntities = [CoachPlan, CoachProfile, CoachAnswer, KbDocument, KbChunk, KbVersion];
