import { Button, Center, Paper, PasswordInput, Stack, TextInput, Title } from "@mantine/core";
import { useState, type FormEvent } from "react";
import { useNavigate } from "react-router";
import { t } from "../i18n";
import { ErrorNote } from "../components/ErrorNote";
import { useAuth } from "./auth";
import { homeFor } from "./roles";

export function SignIn() {
  const auth = useAuth();
  const navigate = useNavigate();
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const user = await auth.signIn(username.trim(), password);
      navigate(homeFor(user.roles), { replace: true });
    } catch (e) {
      setError(t("signin.failed", { detail: e instanceof Error ? e.message : String(e) }));
    } finally {
      setBusy(false);
    }
  }

  return (
    <Center component="main" mih="100vh" p="md">
      <Paper withBorder p="xl" w={380} shadow="sm">
        <form onSubmit={submit}>
          <Stack>
            <Title order={1} size="h2">
              {t("signin.title")}
            </Title>
            <ErrorNote message={error} />
            <TextInput
              label={t("signin.username")}
              autoComplete="username"
              required
              value={username}
              onChange={(e) => setUsername(e.currentTarget.value)}
            />
            <PasswordInput
              label={t("signin.password")}
              autoComplete="current-password"
              required
              value={password}
              onChange={(e) => setPassword(e.currentTarget.value)}
            />
            <Button type="submit" loading={busy}>
              {t("signin.submit")}
            </Button>
          </Stack>
        </form>
      </Paper>
    </Center>
  );
}
