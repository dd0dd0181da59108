/** Two people save the same encounter: the second gets the conflict dialog, nothing is lost. */
import { expect, test } from "@playwright/test";
import { expectAccessible, registerPatient, shot, signedIn, uniqueName, worklist } from "./support";

test("a stale save shows what changed and re-applies the edit on top", async ({ browser }) => {
  const alice = (await signedIn(browser, "alice")).page;
  const first = (await signedIn(browser, "sarah")).page;
  const second = (await signedIn(browser, "sarah")).page;
  const last = uniqueName("Conflict");
  const { op } = await registerPatient(alice, { firstName: "Jane", lastName: last, gender: "Female" });
  for (const page of [first, second]) {
    await worklist(page).getByRole("row").filter({ hasText: op }).getByRole("button", { name: `Open Jane ${last}` }).click();
    await expect(page.getByRole("heading", { name: `Triage: Jane ${last}` })).toBeVisible();
  }

  await first.getByLabel("Pulse").fill("88 bpm");
  await first.getByRole("button", { name: "Save triage" }).click();
  await expect(first.getByText("Triage saved")).toBeVisible();

  // The second screen still holds the version it loaded; its own edit is the complaint.
  await second.getByLabel("Chief complaint").fill("Cough for three days");
  await second.getByRole("button", { name: "Save triage" }).click();
  const dialog = second.getByRole("dialog", { name: "Someone else changed this record" });
  await expect(dialog).toBeVisible();
  await expect(dialog.getByRole("row").filter({ hasText: "vitalSigns" })).toContainText("88/min");
  await shot(second, "conflict-dialog");
  await expectAccessible(second, "conflict dialog");
  await dialog.getByRole("button", { name: "Re-apply my edit" }).click();
  await expect(second.getByText("Triage saved")).toBeVisible();

  // Both changes are there for whoever opens it next.
  await first.reload();
  await expect(first.getByLabel("Pulse")).toHaveValue("88/min");
  await expect(first.getByLabel("Chief complaint")).toHaveValue("Cough for three days");
});
