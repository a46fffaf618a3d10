import { en, type Messages } from './en';
export const fa: Messages = { ...en };
