/** Every screen passes axe-core; bad input shows the server's message on its field; sizes. */
import { expect, test } from "@playwright/test";
import { dismissToasts, expectAccessible, registerPatient, shot, signedIn, uniqueName, worklist } from "./support";

test("sign-in, admin and every department's worklist are accessible", async ({ browser }) => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto("/signin");
  await expectAccessible(page, "sign-in");
  await shot(page, "screen-sign-in");
  await page.getByLabel("Username").fill("nurse_sarah");
  await page.getByRole("textbox", { name: "Password" }).fill("wrong password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("alert")).toContainText("Sign-in failed");

  const admin = (await signedIn(browser, "admin")).page;
  await expect(admin.getByRole("cell", { name: "Sarah Achieng" })).toBeVisible();
  await expectAccessible(admin, "admin");
  await shot(admin, "screen-admin");
  for (const screen of ["Triage", "Clinical", "Lab", "Pharmacy", "Cashier"]) {
    await admin.getByRole("link", { name: screen, exact: true }).click();
    await expect(worklist(admin)).toBeVisible();
    await expectAccessible(admin, `${screen} worklist`);
    await shot(admin, `screen-${screen.toLowerCase()}-worklist`);
  }
});

test("bad input shows the server's message on the field and saves nothing", async ({ browser }) => {
  const alice = (await signedIn(browser, "alice")).page;
  await alice.getByLabel("First name").fill("Mary");
  await alice.getByLabel("Last name").fill("Letters");
  await alice.getByRole("combobox", { name: "Gender" }).click();
  await alice.getByRole("option", { name: "Female", exact: true }).click();
  await alice.getByLabel("Age").fill("40");
  await alice.getByLabel("Phone number").fill("07abc45678");
  await alice.getByRole("button", { name: "Register", exact: true }).click();
  await expect(alice.getByLabel("Phone number")).toHaveAttribute("aria-invalid", "true");
  await expect(alice.locator(".mantine-InputWrapper-error")).toContainText("may contain only digits");
  await expect(alice.getByText(/^Registered Mary Letters/)).toHaveCount(0);
  await shot(alice, "bad-phone");
  await expectAccessible(alice, "registration with an error");

  // Not a name containing "Pulse": getByLabel("Pulse") would also find the row's "Open Paul Pulse…".
  const last = uniqueName("Vital");
  const { op } = await registerPatient(alice, { firstName: "Paul", lastName: last });
  const sarah = (await signedIn(browser, "sarah")).page;
  await worklist(sarah).getByRole("row").filter({ hasText: op }).getByRole("button", { name: `Open Paul ${last}` }).click();
  await sarah.getByLabel("Pulse").fill("900");
  await sarah.getByRole("button", { name: "Save triage" }).click();
  const pulseError = sarah.locator(".mantine-InputWrapper-error");
  await expect(pulseError).toContainText("900/min is not possible; expected 20 to 300 /min");
  await expect(sarah.getByLabel("Pulse")).toHaveAttribute("aria-invalid", "true");
  await shot(sarah, "bad-pulse");
  await sarah.reload();
  await expect(sarah.getByLabel("Pulse")).toHaveValue("");

  const smith = (await signedIn(browser, "smith")).page;
  await smith.getByLabel("Search patients").fill(op);
  await smith.getByRole("option", { name: new RegExp(op) }).click();
  await smith.getByRole("combobox", { name: "ICD-10 code" }).fill("I99.99");
  await smith.getByRole("button", { name: "Add diagnosis" }).click();
  await expect(smith.getByRole("combobox", { name: "ICD-10 code" })).toHaveAttribute("aria-invalid", "true");
  await expect(smith.locator(".mantine-InputWrapper-error")).toContainText(/I99.99|ICD-10/);
  await expect(smith.getByRole("region", { name: "Diagnoses" }).getByText("I99.99", { exact: true })).toHaveCount(0);
  await shot(smith, "bad-icd10");

  // The patient's own page at reception: correct details, follow-up; accessible.
  await alice.getByLabel("Search patients").fill(op);
  await alice.getByRole("option", { name: new RegExp(op) }).click();
  await expect(alice.getByRole("heading", { name: "Correct details" })).toBeVisible();
  await dismissToasts(alice);
  await expectAccessible(alice, "patient details");
  await shot(alice, "screen-reception-patient");
});

test("usable on a 10-inch tablet", async ({ browser }) => {
  const { page } = await signedIn(browser, "alice", { width: 800, height: 1280 });
  await expect(page.getByRole("button", { name: "Register", exact: true })).toBeVisible();
  await expect(page.getByRole("button", { name: /^Notifications/ })).toBeVisible();
  await expectAccessible(page, "reception on a tablet");
  await shot(page, "tablet-reception");
  await page.getByRole("button", { name: "Departments" }).click();
  await expect(page.getByRole("link", { name: "Reception" })).toBeVisible();
});
