import { Alert } from "@mantine/core";
import { t } from "../i18n";

/** A form-level error (one that names no field of the form). */
export function ErrorNote({ message }: { message: string | undefined }) {
  if (!message) return null;
  return (
    <Alert color="red" role="alert" title={t("common.error", { detail: "" }).replace(/:\s*$/, "")}>
      {message}
    </Alert>
  );
}
