import { createTheme, MantineProvider } from "@mantine/core";
import { Notifications } from "@mantine/notifications";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { BrowserRouter, Navigate, Route, Routes, useParams } from "react-router";
import { ApiError } from "../api/problem";
import { AdminScreen } from "../features/admin/AdminScreen";
import { CashierPatient, CashierScreen } from "../features/cashier/CashierScreen";
import { ClinicalPatient, ClinicalScreen } from "../features/clinical/ClinicalScreen";
import { LabPatient, LabScreen } from "../features/lab/LabScreen";
import { PharmacyPatient, PharmacyScreen } from "../features/pharmacy/PharmacyScreen";
import { ReceptionPatient, ReceptionScreen } from "../features/reception/ReceptionScreen";
import { TriagePatient, TriageScreen } from "../features/triage/TriageScreen";
import { AuthProvider, useAuth } from "./auth";
import { LiveProvider } from "./live";
import { homeFor } from "./roles";
import { Shell } from "./Shell";
import { SignIn } from "./SignIn";

// Teal whose two darkest shades both carry white text at WCAG AA (filled buttons hover to 8).
const brand = ["#e6fcf5", "#c3fae8", "#96f2d7", "#63e6be", "#38d9a9", "#20c997", "#12b886", "#0ca678", "#0a7356", "#087f5b"] as const;
const theme = createTheme({ colors: { brand: [...brand] }, primaryColor: "brand", primaryShade: 9, defaultRadius: "sm" });

const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      staleTime: 5_000,
      retry: (count, error) => !(error instanceof ApiError && error.status < 500) && count < 2,
    },
  },
});

function Home() {
  const { user } = useAuth();
  return <Navigate to={user ? homeFor(user.roles) : "/signin"} replace />;
}

function Protected() {
  const { user } = useAuth();
  if (!user) return <Navigate to="/signin" replace />;
  return (
    <LiveProvider>
      <Shell />
    </LiveProvider>
  );
}

/** Remount the patient screen when the patient changes (fresh form, fresh presence). */
function Keyed({ Screen }: { Screen: (props: { patientId: string }) => React.ReactNode }) {
  const { patientId = "" } = useParams();
  return <Screen key={patientId} patientId={patientId} />;
}

export function App() {
  return (
    <MantineProvider theme={theme}>
      <Notifications position="bottom-right" limit={6} />
      <QueryClientProvider client={queryClient}>
        <AuthProvider>
          <BrowserRouter>
            <Routes>
              <Route path="/signin" element={<SignIn />} />
              <Route element={<Protected />}>
                <Route index element={<Home />} />
                <Route path="reception" element={<ReceptionScreen />} />
                <Route path="reception/patients/:patientId" element={<Keyed Screen={ReceptionPatient} />} />
                <Route path="triage" element={<TriageScreen />} />
                <Route path="triage/patients/:patientId" element={<Keyed Screen={TriagePatient} />} />
                <Route path="clinical" element={<ClinicalScreen />} />
                <Route path="clinical/patients/:patientId" element={<Keyed Screen={ClinicalPatient} />} />
                <Route path="lab" element={<LabScreen />} />
                <Route path="lab/patients/:patientId" element={<Keyed Screen={LabPatient} />} />
                <Route path="pharmacy" element={<PharmacyScreen />} />
                <Route path="pharmacy/patients/:patientId" element={<Keyed Screen={PharmacyPatient} />} />
                <Route path="cashier" element={<CashierScreen />} />
                <Route path="cashier/patients/:patientId" element={<Keyed Screen={CashierPatient} />} />
                <Route path="admin" element={<AdminScreen />} />
                <Route path="admin/patients/:patientId" element={<Keyed Screen={ReceptionPatient} />} />
                <Route path="*" element={<Home />} />
              </Route>
            </Routes>
          </BrowserRouter>
        </AuthProvider>
      </QueryClientProvider>
    </MantineProvider>
  );
}
