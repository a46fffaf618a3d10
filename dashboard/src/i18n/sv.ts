import type { Messages } from './en';
import { en } from './en';
export const sv: Messages = { ...en };
