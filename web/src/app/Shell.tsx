/** The frame of every screen: header (who, connection, search, notifications) and navigation. */
import { AppShell, Badge, Burger, Button, Group, NavLink, Text, Title } from "@mantine/core";
import { useDisclosure } from "@mantine/hooks";
import { Suspense } from "react";
import { Link, Outlet, useLocation } from "react-router";
import { Loading } from "../components/Loading";
import { label, t, type MessageKey } from "../i18n";
import { NotificationsButton } from "../features/notifications/Notifications";
import { PatientSearch } from "../features/search/PatientSearch";
import { useAuth, useUser } from "./auth";
import { useLive } from "./live";
import { screensFor } from "./roles";

export function Shell() {
  const user = useUser();
  const { signOut } = useAuth();
  const { state } = useLive();
  const [opened, { toggle, close }] = useDisclosure();
  const location = useLocation();
  const stateText = state === "live" ? t("header.live") : t("header.reconnecting");
  const roleNames = user.roles.map((r) => label("role", r)).join(", ");

  return (
    <AppShell
      header={{ height: { base: 104, md: 60 } }}
      navbar={{ width: 180, breakpoint: "md", collapsed: { mobile: !opened } }}
      padding="md"
    >
      <AppShell.Header px="md">
        <Group h="100%" justify="space-between" wrap="wrap" gap="xs" py={6}>
          <Group gap="sm" wrap="nowrap">
            <Burger opened={opened} onClick={toggle} hiddenFrom="md" size="sm" aria-label={t("nav.main")} />
            <Title order={1} size="h3">
              {t("appName")}
            </Title>
            <Badge
              role="status"
              aria-label={t("header.connection", { state: stateText })}
              color={state === "live" ? "#1b5e20" : "#a33b00"}
              variant="filled"
            >
              {stateText}
            </Badge>
          </Group>
          <PatientSearch />
          <Group gap="sm" wrap="nowrap">
            <NotificationsButton />
            <Text size="sm" data-testid="signed-in-user">
              {t("header.signedInAs", { name: user.name, role: roleNames })}
            </Text>
            <Button variant="default" size="xs" onClick={() => void signOut()}>
              {t("signout")}
            </Button>
          </Group>
        </Group>
      </AppShell.Header>
      <AppShell.Navbar p="xs" component="nav" aria-label={t("nav.main")}>
        {screensFor(user.roles).map((screen) => (
          <NavLink
            key={screen}
            component={Link}
            to={`/${screen}`}
            label={t(`nav.${screen}` as MessageKey)}
            variant="filled"
            active={location.pathname.startsWith(`/${screen}`)}
            onClick={close}
          />
        ))}
      </AppShell.Navbar>
      <AppShell.Main component="main">
        <Suspense fallback={<Loading />}>
          <Outlet />
        </Suspense>
      </AppShell.Main>
    </AppShell>
  );
}
