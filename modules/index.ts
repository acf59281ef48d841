// The app modules this server runs. Adding a module is one line here; MODULES=… lets a node serve
// some of them only. See docs/architecture.md § Adding a module.
import type { AnyModule } from '../server/module.ts';
import { chatModule } from './chat/index.ts';
import { coachModule } from './coach/index.ts';
import { rizzModule } from './rizz/index.ts';
import { walkModule } from './walk/index.ts';

export const modules: AnyModule[] = [coachModule, chatModule, rizzModule, walkModule];
