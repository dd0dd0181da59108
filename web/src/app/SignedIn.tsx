/** Everything after sign-in, a chunk of its own (the sign-in screen does not download it): the
 * query cache, the live connection, toasts and the frame of every screen. */
import { Notifications } from "@mantine/notifications";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { useState } from "react";
import { ApiError } from "../api/problem";
import { LiveProvider } from "./live";
import { Shell } from "./Shell";

function newQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: {
      queries: {
        staleTime: 5_000,
        retry: (count, error) => !(error instanceof ApiError && error.status < 500) && count < 2,
      },
    },
  });
}

export default function SignedIn() {
  // One cache per signed-in session: whoever signs in next in this tab starts empty.
  const [queryClient] = useState(newQueryClient);
  return (
    <QueryClientProvider client={queryClient}>
      <Notifications position="bottom-right" limit={6} />
      <LiveProvider>
        <Shell />
      </LiveProvider>
    </QueryClientProvider>
  );
}
