import type { Messages } from './en';
import { en } from './en';
export const el: Messages = { ...en };
