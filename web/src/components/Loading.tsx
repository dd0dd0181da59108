/** What a screen shows while its code or data loads. */
import { Center, Loader } from "@mantine/core";
import { t } from "../i18n";

export function Loading() {
  return (
    <Center p="xl" role="status" aria-label={t("common.loading")}>
      <Loader size="sm" />
    </Center>
  );
}
