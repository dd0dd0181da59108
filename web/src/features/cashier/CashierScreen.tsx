/** Cashier: the worklist, the invoice with its items, payments, and a printable receipt. */
import { Alert, Badge, Button, Group, NumberInput, Paper, Select, Stack, Table, Text, TextInput, Title } from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useNavigate } from "react-router";
import { api, idempotencyKey, unwrap } from "../../api/client";
import { fieldErrors } from "../../api/problem";
import type { Invoice } from "../../api/types";
import { ErrorNote } from "../../components/ErrorNote";
import { PatientHeader, usePatient } from "../../components/PatientHeader";
import { Worklist } from "../../components/Worklist";
import { label, t } from "../../i18n";
import { usePresence } from "../presence/presence";

export function CashierScreen() {
  const navigate = useNavigate();
  return (
    <Worklist department="billing" title={t("worklist.title", { department: t("nav.cashier") })}
      onOpen={(a) => navigate(`/cashier/patients/${a.patientId}`)} />
  );
}

const money = (n: number, currency: string) => `${currency} ${n.toFixed(2)}`;

function PaymentForm({ invoice }: { invoice: Invoice }) {
  const queryClient = useQueryClient();
  const [amount, setAmount] = useState<number | string>(invoice.balance);
  const [method, setMethod] = useState<string | null>("CASH");
  const [reference, setReference] = useState("");
  const [payer, setPayer] = useState("");
  const pay = useMutation({
    mutationFn: () => unwrap(api.billing.POST("/visits/{visit_id}/payments", {
      params: { path: { visit_id: invoice.visitId } },
      body: {
        amount: Number(amount),
        paymentType: (method ?? "CASH") as "CASH",
        reference: reference || null,
        payer: method === "INSURANCE" ? payer || null : null,
        status: "COMPLETED",
      } as never,
      headers: { "Idempotency-Key": idempotencyKey() },
    })),
    onSuccess: (receipt) => {
      queryClient.setQueryData(["billing", "invoice", invoice.visitId], receipt.invoice);
      void queryClient.invalidateQueries({ queryKey: ["billing"] });
    },
  });
  const errors = fieldErrors(pay.error, ["amount", "paymentType", "reference", "payer"]);
  return (
    <form onSubmit={(e) => { e.preventDefault(); pay.mutate(); }} noValidate className="no-print">
      <Stack gap="xs">
        <ErrorNote message={errors[""]} />
        <Group grow align="flex-start">
          <NumberInput label={t("cashier.amount")} value={amount} onChange={setAmount} error={errors.amount} decimalScale={2} min={0} />
          <Select label={t("cashier.method")} value={method} onChange={setMethod} error={errors.paymentType}
            data={["CASH", "MOBILE_MONEY", "INSURANCE", "CARD"].map((m) => ({ value: m, label: label("method", m) }))} />
        </Group>
        {method !== "CASH" && (
          <Group grow align="flex-start">
            <TextInput label={t("cashier.reference")} value={reference} error={errors.reference} onChange={(e) => setReference(e.currentTarget.value)} />
            {method === "INSURANCE" && (
              <TextInput label={t("cashier.payer")} value={payer} error={errors.payer} onChange={(e) => setPayer(e.currentTarget.value)} />
            )}
          </Group>
        )}
        <Group><Button type="submit" loading={pay.isPending}>{t("cashier.pay")}</Button></Group>
      </Stack>
    </form>
  );
}

/** ``value``, or the last defined value it had: the patient's open visit closes the moment it is
 * paid in full, and the cashier still needs its invoice on screen to print the receipt. */
function useLastKnown(value: string | undefined): string | undefined {
  const [last, setLast] = useState(value);
  if (value !== undefined && value !== last) setLast(value);
  return value ?? last;
}

export function CashierPatient({ patientId }: { patientId: string }) {
  const patient = usePatient(patientId);
  const visitId = useLastKnown(patient.data?.visit?.id);
  usePresence("invoice", visitId);
  const invoice = useQuery({
    queryKey: ["billing", "invoice", visitId],
    queryFn: () => unwrap(api.billing.GET("/visits/{visit_id}/invoice", { params: { path: { visit_id: visitId ?? "" } } })),
    enabled: Boolean(visitId),
  });
  const inv = invoice.data;
  return (
    <>
      <PatientHeader patientId={patientId} title={(name) => t("cashier.title", { name })} />
      <ErrorNote message={invoice.error?.message} />
      {inv && (
        <Paper withBorder p="md" component="section" aria-labelledby="invoice-title">
          <Group justify="space-between" mb="sm">
            <Title order={3} size="h4" id="invoice-title">{t("cashier.invoice")} · {inv.opNumber}</Title>
            <Badge color={inv.status === "PAID" ? "#1b5e20" : "blue.9"}>{inv.status}</Badge>
          </Group>
          <Table striped withTableBorder>
            <Table.Thead>
              <Table.Tr><Table.Th>{t("cashier.item")}</Table.Th><Table.Th ta="right">{t("cashier.amount")}</Table.Th></Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {inv.items.map((item) => (
                <Table.Tr key={item.id}><Table.Td>{item.description}</Table.Td><Table.Td ta="right">{money(item.amount, item.currency)}</Table.Td></Table.Tr>
              ))}
              <Table.Tr><Table.Th>{t("cashier.total")}</Table.Th><Table.Th ta="right">{money(inv.total, inv.currency)}</Table.Th></Table.Tr>
              <Table.Tr><Table.Td>{t("cashier.paid")}</Table.Td><Table.Td ta="right">{money(inv.paid, inv.currency)}</Table.Td></Table.Tr>
              <Table.Tr><Table.Th>{t("cashier.balance")}</Table.Th><Table.Th ta="right">{money(inv.balance, inv.currency)}</Table.Th></Table.Tr>
            </Table.Tbody>
          </Table>
          {inv.pendingOrders > 0 && <Text mt="xs" c="#a33b00">{t("cashier.pending", { count: inv.pendingOrders })}</Text>}
          {inv.payments.map((p) => (
            <Text key={p.id} size="sm">{label("method", p.paymentType)} {money(p.amount, p.currency)} {p.reference ?? ""} · {p.processedByName ?? p.processedBy}</Text>
          ))}
          <Stack mt="md">
            {inv.balance > 0 ? (
              <PaymentForm key={inv.version} invoice={inv} />
            ) : (
              <Alert color="green" role="status">{t("cashier.settled")}</Alert>
            )}
            <Group className="no-print"><Button variant="default" onClick={() => window.print()}>{t("cashier.receipt")}</Button></Group>
          </Stack>
        </Paper>
      )}
    </>
  );
}
