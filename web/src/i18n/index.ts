import { en, type MessageKey } from "./en";

export type { MessageKey };

type Catalogue = Record<MessageKey, string>;
const catalogues: Record<string, Catalogue> = { en };
let current: Catalogue = en;

export function setLanguage(lang: string): void {
  current = catalogues[lang] ?? en;
}

/** The string for `key` with `{name}` placeholders filled from `vars`. */
export function t(key: MessageKey, vars: Record<string, string | number> = {}): string {
  const template = current[key] ?? en[key] ?? key;
  return template.replace(/\{(\w+)\}/g, (_, name: string) =>
    name in vars ? String(vars[name]) : `{${name}}`,
  );
}

/** A label for a server enum value, when the catalogue has one ("gender.MALE" -> "Male"). */
export function label(prefix: string, value: string | null | undefined): string {
  if (!value) return "";
  const key = `${prefix}.${value}` as MessageKey;
  return key in current ? t(key) : value;
}
