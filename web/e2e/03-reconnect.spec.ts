/** The notifier restarts mid-session: reconnecting, then live, and what was missed arrives once. */
import { expect, test } from "@playwright/test";
import { registerPatient, shot, signedIn, uniqueName, worklist } from "./support";

async function control(action: "stop" | "start", service: string): Promise<void> {
  const base = process.env.KLINIKI_E2E_CONTROL;
  test.skip(!base, "needs the control server of tests/e2e/test_console.py");
  const response = await fetch(`${base}/${action}/${service}`, { method: "POST" });
  expect(response.status).toBe(204);
}

test("the header shows reconnecting, then live, and missed notifications appear once", async ({ browser }) => {
  const alice = (await signedIn(browser, "alice")).page;
  const sarah = (await signedIn(browser, "sarah")).page;
  await control("stop", "notifier");
  await expect(sarah.getByRole("status", { name: "Connection: Reconnecting…" })).toBeVisible();
  await shot(sarah, "reconnecting");

  // Registered while the notifier is away: Sarah's assignment waits in the broker.
  const last = uniqueName("Missed");
  const { op } = await registerPatient(alice, { firstName: "Peter", lastName: last });
  await control("start", "notifier");
  await expect(sarah.getByRole("status", { name: "Connection: Live" })).toBeVisible({ timeout: 45_000 });
  await expect(worklist(sarah).getByRole("row").filter({ hasText: op })).toBeVisible();

  const message = `Peter ${last} (OP#${op.slice(2)}) assigned for triage`;
  expect(await sarah.getByRole("alert").filter({ hasText: message }).count()).toBeLessThanOrEqual(1);
  await sarah.getByRole("button", { name: /^Notifications, / }).click();
  const list = sarah.getByRole("dialog", { name: "Notifications" });
  await expect(list.getByText(message)).toHaveCount(1);
  await sarah.waitForTimeout(2000); // nothing arrives twice
  await expect(list.getByText(message)).toHaveCount(1);
  await shot(sarah, "reconnected");
});
