/** The Notifications button (unread count) and its list, which marks them read. */
import { Badge, Button, Drawer, Group, Indicator, Stack, Text, UnstyledButton } from "@mantine/core";
import { useDisclosure } from "@mantine/hooks";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, unwrap } from "../../api/client";
import { t } from "../../i18n";
import { isUrgent, notificationText } from "../../live/store";
import { useLive } from "../../app/live";

interface Item {
  id: number;
  event: string;
  data: Record<string, unknown>;
  read: boolean;
  createdAt: string;
}

export function useNotifications() {
  return useQuery({
    queryKey: ["notifier", "notifications"],
    queryFn: async () =>
      (await unwrap(api.notifier.GET("/notifications", { params: { query: { limit: 100 } } }))) as unknown as Item[],
  });
}

export function NotificationsButton() {
  const [opened, { open, close }] = useDisclosure();
  const queryClient = useQueryClient();
  const { client } = useLive();
  const list = useNotifications();
  const items = list.data ?? [];
  const unread = items.filter((n) => !n.read);
  const markRead = useMutation({
    mutationFn: (ids: number[]) => unwrap(api.notifier.POST("/notifications/read", { body: { ids } })),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ["notifier", "notifications"] }),
  });
  const name = t("notifications.button", { count: unread.length });

  return (
    <>
      <Indicator label={unread.length} size={18} disabled={unread.length === 0} color="red.9">
        <Button variant="outline" size="xs" onClick={open} aria-label={name}>
          {t("notifications.title")}
        </Button>
      </Indicator>
      <Drawer opened={opened} onClose={close} position="right" title={t("notifications.title")}
        closeButtonProps={{ "aria-label": t("common.close") }}>
        <Group justify="flex-end" mb="sm">
          <Button
            size="xs"
            variant="default"
            disabled={unread.length === 0}
            onClick={() => {
              const ids = unread.map((n) => n.id);
              client?.emit("mark_read", { ids });
              markRead.mutate(ids);
            }}
          >
            {t("notifications.markAllRead")}
          </Button>
        </Group>
        <Stack gap="xs" component="ul" style={{ listStyle: "none", padding: 0, margin: 0 }}>
          {items.length === 0 && <Text c="gray.8">{t("notifications.empty")}</Text>}
          {items.map((n) => (
            <li key={n.id}>
              <UnstyledButton
                w="100%"
                p="xs"
                style={{ borderRadius: 4, background: n.read ? undefined : "var(--mantine-color-blue-0)" }}
                onClick={() => !n.read && markRead.mutate([n.id])}
              >
                <Group gap="xs" wrap="nowrap" align="flex-start">
                  {isUrgent(n.data) && (
                    <Badge color="red.9" variant="filled">
                      URGENT
                    </Badge>
                  )}
                  <Text size="sm" fw={n.read ? 400 : 700}>
                    {notificationText(n.event, n.data)}
                  </Text>
                </Group>
                <Text size="xs" c="gray.8">
                  {new Date(n.createdAt).toLocaleTimeString()}
                </Text>
              </UnstyledButton>
            </li>
          ))}
        </Stack>
      </Drawer>
    </>
  );
}
