import { createTheme, MantineProvider } from "@mantine/core";
import { lazy, Suspense, type ComponentType } from "react";
import { BrowserRouter, Navigate, Route, Routes, useParams } from "react-router";
import { Loading } from "../components/Loading";
import { AuthProvider, useAuth } from "./auth";
import { homeFor } from "./roles";
import { SignIn } from "./SignIn";

// Loaded on first use, so the sign-in screen downloads only itself (React, the router and the
// few parts of Mantine it uses): the signed-in frame (query client, live connection, header,
// toasts) and each department's screens are separate chunks.
const SignedIn = lazy(() => import("./SignedIn"));

/** A department screen module's named export, as a lazily loaded component. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any props: each keeps its own type (M[K])
function screen<M extends Record<K, ComponentType<any>>, K extends string>(load: () => Promise<M>, name: K) {
  return lazy(async () => ({ default: (await load())[name] }));
}
const reception = () => import("../features/reception/ReceptionScreen");
const triage = () => import("../features/triage/TriageScreen");
const clinical = () => import("../features/clinical/ClinicalScreen");
const lab = () => import("../features/lab/LabScreen");
const pharmacy = () => import("../features/pharmacy/PharmacyScreen");
const cashier = () => import("../features/cashier/CashierScreen");
const ReceptionScreen = screen(reception, "ReceptionScreen");
const ReceptionPatient = screen(reception, "ReceptionPatient");
const TriageScreen = screen(triage, "TriageScreen");
const TriagePatient = screen(triage, "TriagePatient");
const ClinicalScreen = screen(clinical, "ClinicalScreen");
const ClinicalPatient = screen(clinical, "ClinicalPatient");
const LabScreen = screen(lab, "LabScreen");
const LabPatient = screen(lab, "LabPatient");
const PharmacyScreen = screen(pharmacy, "PharmacyScreen");
const PharmacyPatient = screen(pharmacy, "PharmacyPatient");
const CashierScreen = screen(cashier, "CashierScreen");
const CashierPatient = screen(cashier, "CashierPatient");
const AdminScreen = screen(() => import("../features/admin/AdminScreen"), "AdminScreen");

// Teal whose two darkest shades both carry white text at WCAG AA (filled buttons hover to 8).
const brand = ["#e6fcf5", "#c3fae8", "#96f2d7", "#63e6be", "#38d9a9", "#20c997", "#12b886", "#0ca678", "#0a7356", "#087f5b"] as const;
const theme = createTheme({ colors: { brand: [...brand] }, primaryColor: "brand", primaryShade: 9, defaultRadius: "sm" });

function Home() {
  const { user } = useAuth();
  return <Navigate to={user ? homeFor(user.roles) : "/signin"} replace />;
}

function Protected() {
  const { user } = useAuth();
  if (!user) return <Navigate to="/signin" replace />;
  return (
    <Suspense fallback={<Loading />}>
      <SignedIn />
    </Suspense>
  );
}

/** Remount the patient screen when the patient changes (fresh form, fresh presence). */
function Keyed({ Screen }: { Screen: ComponentType<{ patientId: string }> }) {
  const { patientId = "" } = useParams();
  return <Screen key={patientId} patientId={patientId} />;
}

export function App() {
  return (
    <MantineProvider theme={theme}>
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
    </MantineProvider>
  );
}
