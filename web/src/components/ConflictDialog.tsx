/**
 * A save got 409: show what the other person changed (their version against what this screen
 * had loaded) and let the user reload (dropping their edit) or re-apply their edit on top of
 * the current version. Nothing typed is lost until the user chooses.
 */
import { Button, Group, Modal, Table, Text } from "@mantine/core";
import { changedFields } from "../api/problem";
import { t } from "../i18n";

export interface ConflictState {
  detail: string;
  loaded: Record<string, unknown>;
  current: Record<string, unknown>;
  mine: Record<string, unknown>;
}

function show(value: unknown): string {
  if (value === null || value === undefined || value === "") return "—";
  if (typeof value === "object") {
    const v = value as Record<string, unknown>;
    if ("text" in v) return String(v.text);
    return Object.entries(v)
      .filter(([, x]) => x !== null && x !== undefined)
      .map(([k, x]) => `${k}: ${show(x)}`)
      .join(", ");
  }
  return String(value);
}

export function ConflictDialog({
  conflict,
  onReload,
  onReapply,
}: {
  conflict: ConflictState | null;
  onReload: () => void;
  onReapply: () => void;
}) {
  const changes = conflict ? changedFields(conflict.loaded, conflict.current) : [];
  return (
    <Modal opened={conflict !== null} onClose={onReload} title={t("conflict.title")} size="lg"
      closeButtonProps={{ "aria-label": t("common.close") }}>
      {conflict && (
        <>
          <Text mb="sm">{conflict.detail}</Text>
          <Table withTableBorder striped>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>{t("conflict.field")}</Table.Th>
                <Table.Th>{t("conflict.theirs")}</Table.Th>
                <Table.Th>{t("conflict.mine")}</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {changes.map((c) => (
                <Table.Tr key={c.field}>
                  <Table.Td>{c.field}</Table.Td>
                  <Table.Td>{show(c.after)}</Table.Td>
                  <Table.Td>{show(conflict.mine[c.field])}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
          <Group justify="flex-end" mt="md">
            <Button variant="default" onClick={onReload}>
              {t("conflict.reload")}
            </Button>
            <Button onClick={onReapply}>{t("conflict.reapply")}</Button>
          </Group>
        </>
      )}
    </Modal>
  );
}
