import type { Messages } from './en';
import { en } from './en';
export const fa: Messages = { ...en };
