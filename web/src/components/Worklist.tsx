/**
 * A department's worklist: URGENT first, waiting time ticking, claim / transfer / complete,
 * the shared queue (nobody on duty when the patient arrived), and the on-duty toggle.
 * Live: notifier frames invalidate ["<department>", "assignments"].
 */
import { Badge, Button, Group, Paper, Select, Switch, Table, Text, Title } from "@mantine/core";
import { useInterval } from "@mantine/hooks";
import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { api, unwrap, type Department } from "../api/client";
import { ApiError } from "../api/problem";
import type { Assignment, Duty } from "../api/types";
import { useUser } from "../app/auth";
import { t } from "../i18n";
import { ErrorNote } from "./ErrorNote";
import { byPriorityThenArrival, waitingText } from "./waiting";
import { EscalationBadge } from "./EscalationBadge";

// Every department serves the same worklist routes; their generated types are identical.
type WorklistClient = typeof api.triage;
const worklistClient = (department: Department): WorklistClient =>
  api[department] as unknown as WorklistClient;

/** The active worklist, a page (50) at a time: "Show more" follows the X-Next-Cursor. */
export function useAssignments(department: Department) {
  const query = useInfiniteQuery({
    queryKey: [department, "assignments", "ACTIVE"],
    initialPageParam: undefined as string | undefined,
    queryFn: async ({ pageParam }) => {
      const call = worklistClient(department).GET("/assignments", {
        params: { query: { status: "ACTIVE", cursor: pageParam } },
      });
      const rows = await unwrap(call);
      const next = (await call).response.headers.get("X-Next-Cursor");
      return { rows, next: next ?? undefined };
    },
    getNextPageParam: (last) => last.next,
    refetchInterval: 60_000, // a safety net; frames keep it fresh
  });
  const data: Assignment[] | undefined = query.data?.pages.flatMap((p) => p.rows);
  return { ...query, data };
}

/** The header's counts, over the whole worklist (one query on the server). */
function useSummary(department: Department) {
  return useQuery({
    queryKey: [department, "assignments", "summary"],
    queryFn: () => unwrap(worklistClient(department).GET("/assignments/summary")),
    refetchInterval: 60_000,
  });
}

function useNow(everyMs: number): number {
  const [now, setNow] = useState(Date.now());
  const interval = useInterval(() => setNow(Date.now()), everyMs);
  useEffect(() => {
    interval.start();
    return interval.stop;
  }, [interval]);
  return now;
}

export function Worklist({
  department,
  title,
  onOpen,
}: {
  department: Department;
  title: string;
  onOpen: (assignment: Assignment) => void;
}) {
  const user = useUser();
  const client = worklistClient(department);
  const queryClient = useQueryClient();
  const now = useNow(15_000);
  const assignments = useAssignments(department);
  const summary = useSummary(department);
  const duty = useQuery({
    queryKey: [department, "duty"],
    queryFn: () => unwrap(client.GET("/duty")),
  });
  const update = useMutation({
    mutationFn: (args: { a: Assignment; body: { status?: "COMPLETED"; assignedToUserId?: string | null } }) =>
      unwrap(
        client.PATCH("/assignments/{assignment_id}", {
          params: { path: { assignment_id: args.a.id } },
          body: { ...args.body, version: args.a.version },
        }),
      ),
    onSettled: () => queryClient.invalidateQueries({ queryKey: [department, "assignments"] }),
  });
  const setDuty = useMutation({
    mutationFn: (onDuty: boolean) => unwrap(client.POST("/duty", { body: { onDuty } })),
    onSettled: () => queryClient.invalidateQueries({ queryKey: [department, "duty"] }),
  });
  const me: Duty | undefined = duty.data?.find((d) => d.userId === user.id);
  const colleagues = (duty.data ?? []).filter((d) => d.onDuty);
  const rows = byPriorityThenArrival(assignments.data ?? []);
  const error = update.error ?? setDuty.error ?? assignments.error;

  return (
    <Paper p="md" withBorder>
      <Group justify="space-between" mb="sm">
        <Title order={2} size="h3" id={`${department}-worklist-title`}>
          {title}
        </Title>
        {me !== undefined && (
          <Switch
            label={t("worklist.onDuty")}
            checked={me.onDuty}
            onChange={(e) => setDuty.mutate(e.currentTarget.checked)}
          />
        )}
      </Group>
      {summary.data && (
        <Text size="sm" mb="xs" aria-live="polite">
          {t("worklist.summary", {
            active: summary.data.active,
            urgent: summary.data.urgent,
            mine: summary.data.mine,
            unassigned: summary.data.unassigned,
          })}
          {summary.data.pastTarget > 0 && ` · ${t("worklist.summaryPastTarget", { n: summary.data.pastTarget })}`}
        </Text>
      )}
      <ErrorNote message={error ? (error instanceof ApiError ? error.message : String(error)) : undefined} />
      <div role="region" aria-label={t("worklist.region")} style={{ overflowX: "auto" }}>
        {rows.length === 0 && !assignments.isLoading ? (
          <Text c="gray.8">{t("worklist.empty")}</Text>
        ) : (
          <Table striped highlightOnHover verticalSpacing="xs">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>{t("worklist.patient")}</Table.Th>
                <Table.Th>{t("worklist.priority")}</Table.Th>
                <Table.Th>{t("worklist.waiting")}</Table.Th>
                <Table.Th>{t("worklist.assignee")}</Table.Th>
                <Table.Th>{t("worklist.actions")}</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {rows.map((a) => (
                <Table.Tr key={a.id}>
                  <Table.Td>
                    <Button
                      variant="subtle"
                      px={4}
                      onClick={() => onOpen(a)}
                      aria-label={t("common.open", { name: a.patientName })}
                    >
                      {a.patientName}
                    </Button>
                    <Text size="xs" c="gray.8" span>
                      {a.opNumber}
                    </Text>
                  </Table.Td>
                  <Table.Td>
                    <Badge color={a.priority === "URGENT" ? "red.9" : "gray.7"} variant="filled">
                      {t(`priority.${a.priority}`)}
                    </Badge>
                  </Table.Td>
                  <Table.Td>
                    {waitingText(a.createdAt, now)}
                    {" "}
                    <EscalationBadge level={a.escalationLevel} />
                  </Table.Td>
                  <Table.Td>{a.assignedToName ?? a.assignedToUserId ?? t("worklist.sharedQueue")}</Table.Td>
                  <Table.Td>
                    <Group gap="xs" wrap="nowrap">
                      {a.assignedToUserId !== user.id && (
                        <Button
                          size="xs"
                          variant="outline"
                          aria-label={t("worklist.claim", { name: a.patientName })}
                          onClick={() => update.mutate({ a, body: { assignedToUserId: user.id } })}
                        >
                          {t("worklist.claim", { name: "" }).trim()}
                        </Button>
                      )}
                      <Select
                        size="xs"
                        w={150}
                        aria-label={t("worklist.transfer", { name: a.patientName })}
                        placeholder={t("worklist.transfer", { name: "" }).replace(/\s+to$/, "").trim()}
                        data={colleagues
                          .filter((c) => c.userId !== a.assignedToUserId)
                          .map((c) => ({ value: c.userId, label: c.name }))}
                        value={null}
                        onChange={(value) => value && update.mutate({ a, body: { assignedToUserId: value } })}
                      />
                      <Button
                        size="xs"
                        variant="default"
                        aria-label={t("worklist.complete", { name: a.patientName })}
                        onClick={() => update.mutate({ a, body: { status: "COMPLETED" } })}
                      >
                        {t("worklist.complete", { name: "" }).trim()}
                      </Button>
                    </Group>
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        )}
        {assignments.hasNextPage && (
          <Button
            mt="sm"
            variant="default"
            loading={assignments.isFetchingNextPage}
            onClick={() => void assignments.fetchNextPage()}
          >
            {t("worklist.showMore", { shown: rows.length, total: summary.data?.active ?? rows.length })}
          </Button>
        )}
      </div>
    </Paper>
  );
}
