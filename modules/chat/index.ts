// The AI character chat (seed 004): characters with lorebooks and cards, rooms with streamed,
// resumable replies priced in points.
import { defineModule, type ModulePlatform } from '../../server/module.ts';
import { chatMigrations } from '../../entities/migrations/chat/index.ts';
import { characterRoutes } from '../../routes/chat/characters.ts';
import { createCharacterService } from '../../services/chat/characters.ts';
import { chatConfigSchema, type ChatConfig } from './config.ts';

export const chatModule = defineModule({
  name: 'chat',
  summary: 'AI character chat: characters, lorebooks and cards, streamed replies priced in points',
  config: chatConfigSchema,
  migrations: chatMigrations,
  llmBulkhead: { concurrency: 200, queue: 200 },
  createServices: (platform, config) => createChatServices(platform, config),
  routes: (api, chat) => {
    characterRoutes(api, { characters: chat.characters });
  },
});

function createChatServices(platform: ModulePlatform, config: ChatConfig) {
  const { em, time } = platform;
  const characters = createCharacterService({ em, time });
  return { config, characters };
}

export type ChatServices = ReturnType<typeof createChatServices>;
