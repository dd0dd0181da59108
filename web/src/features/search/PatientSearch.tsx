/** "Search patients" for every role: name, phone or OP number (registration's GET /patients?q=). */
import { Combobox, TextInput, useCombobox } from "@mantine/core";
import { useDebouncedValue } from "@mantine/hooks";
import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { useNavigate } from "react-router";
import { api, unwrap } from "../../api/client";
import { useUser } from "../../app/auth";
import { screensFor } from "../../app/roles";
import { t } from "../../i18n";

export function PatientSearch() {
  const user = useUser();
  const navigate = useNavigate();
  const [q, setQ] = useState("");
  const [debounced] = useDebouncedValue(q.trim(), 250);
  const combobox = useCombobox({ onDropdownClose: () => combobox.resetSelectedOption() });
  const results = useQuery({
    queryKey: ["registration", "patients", "search", debounced],
    queryFn: () => unwrap(api.registration.GET("/patients", { params: { query: { q: debounced } } })),
    enabled: debounced.length >= 2,
  });
  const home = screensFor(user.roles)[0] ?? "reception";

  return (
    <Combobox
      store={combobox}
      onOptionSubmit={(patientId) => {
        combobox.closeDropdown();
        setQ("");
        navigate(`/${home === "admin" ? "reception" : home}/patients/${patientId}`);
      }}
    >
      <Combobox.Target>
        <TextInput
          label={t("search.label")}
          labelProps={{ className: "visually-hidden-label" }}
          placeholder={t("search.placeholder")}
          w={{ base: "100%", xs: 260 }}
          size="xs"
          value={q}
          onChange={(e) => {
            setQ(e.currentTarget.value);
            combobox.openDropdown();
          }}
          onFocus={() => combobox.openDropdown()}
          onBlur={() => combobox.closeDropdown()}
        />
      </Combobox.Target>
      <Combobox.Dropdown hidden={debounced.length < 2}>
        <Combobox.Options>
          {(results.data ?? []).map((p) => (
            <Combobox.Option value={p.id} key={p.id}>
              {p.fullName} · {p.opNumber} · {p.phoneNumber ?? ""}
            </Combobox.Option>
          ))}
          {results.data?.length === 0 && <Combobox.Empty>{t("search.none")}</Combobox.Empty>}
        </Combobox.Options>
      </Combobox.Dropdown>
    </Combobox>
  );
}
