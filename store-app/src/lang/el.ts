import { en, type Messages } from './en';
export const el: Messages = { ...en };
