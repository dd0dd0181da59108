import AxeBuilder from "@axe-core/playwright";
import { expect, type Browser, type BrowserContext, type Page } from "@playwright/test";
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const ARTIFACTS = process.env.KLINIKI_E2E_ARTIFACTS ?? join(dirname(fileURLToPath(import.meta.url)), "..", "test-artifacts");
mkdirSync(ARTIFACTS, { recursive: true });

export const STAFF = {
  alice: { id: "alice_receptionist", name: "Alice Wanjiru" },
  sarah: { id: "nurse_sarah", name: "Sarah Achieng" },
  smith: { id: "dr_smith", name: "Dr. Smith" },
  mike: { id: "mike_lab_tech", name: "Mike Otieno" },
  lisa: { id: "lisa_pharmacist", name: "Lisa Mwangi" },
  tom: { id: "tom_cashier", name: "Tom Kiprop" },
  admin: { id: "admin", name: "Clinic Administrator" },
} as const;
export type Who = keyof typeof STAFF;

export const PASSWORD = process.env.KLINIKI_DEV_PASSWORD ?? "kliniki";

/** A fresh browser context for one staff member, signed in through the sign-in screen. */
export async function signedIn(browser: Browser, who: Who, viewport = { width: 1366, height: 768 }): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  await page.goto("/signin");
  await page.getByLabel("Username").fill(STAFF[who].id);
  await page.getByRole("textbox", { name: "Password" }).fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByTestId("signed-in-user")).toContainText(STAFF[who].name);
  await expect(page.getByRole("status", { name: /Connection: Live/ })).toBeVisible();
  return { context, page };
}

export async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`) });
}

/** axe-core on what the page shows: no serious or critical violation. */
export async function expectAccessible(page: Page, what: string): Promise<void> {
  // Settle first: no button in its loading state, no animation running.
  await page.waitForFunction(() => !document.querySelector("[data-loading]"));
  await page.waitForTimeout(300);
  const results = await new AxeBuilder({ page }).analyze();
  const bad = results.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  expect(
    bad.map((v) => `${what}: ${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(" ")).slice(0, 3).join(" | ")}`),
  ).toEqual([]);
}

let counter = 0;
/** A patient name nobody else in this run has (tests share one database). */
export function uniqueName(base: string): string {
  counter += 1;
  const letters = "abcdefghij";
  const tag = `${Date.now() % 100000}${counter}`.split("").map((d) => letters[Number(d)]).join("");
  return `${base}${tag[0]?.toUpperCase() ?? ""}${tag.slice(1)}`;
}

export async function registerPatient(
  page: Page,
  patient: { firstName: string; lastName: string; gender?: string; age?: string; phone?: string },
): Promise<{ op: string; submittedAt: number }> {
  await page.getByRole("link", { name: "Reception" }).click();
  await page.getByLabel("First name").fill(patient.firstName);
  await page.getByLabel("Last name").fill(patient.lastName);
  await page.getByRole("combobox", { name: "Gender" }).click();
  await page.getByRole("option", { name: patient.gender ?? "Male", exact: true }).click();
  await page.getByLabel("Age").fill(patient.age ?? "35");
  await page.getByLabel("Phone number").fill(patient.phone ?? "+254712345678");
  const submittedAt = Date.now();
  await page.getByRole("button", { name: "Register", exact: true }).click();
  const done = page.getByRole("status").filter({ hasText: `Registered ${patient.firstName} ${patient.lastName}` });
  await expect(done).toBeVisible();
  const text = (await done.textContent()) ?? "";
  return { op: /OP\d+/.exec(text)?.[0] ?? "", submittedAt };
}

export function worklist(page: Page) {
  return page.getByRole("region", { name: "Worklist", exact: true });
}

/** Dismiss every toast (they stack bottom-right, over whatever is below them). */
export async function dismissToasts(page: Page): Promise<void> {
  await page.mouse.move(0, 0); // a toast under the pointer does not close by itself
  const buttons = page.getByRole("alert").getByRole("button", { name: "Dismiss" });
  for (let i = 0; i < 30 && (await buttons.count()) > 0; i++) {
    await buttons.first().click({ force: true, timeout: 2000 }).catch(() => undefined);
    await page.waitForTimeout(250);
  }
  await expect(buttons).toHaveCount(0);
}
