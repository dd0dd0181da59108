/** "Past target" / "Past twice the target": the patient has waited past their SATS colour's
 * target at a stage (issue 14's escalation), on the worklists and the visits board alike. */
import { Badge } from "@mantine/core";
import { t } from "../i18n";

export function EscalationBadge({ level }: { level: number | undefined }) {
  if (!level) return null;
  return (
    // A burnt orange dark enough for white text at WCAG AA (Mantine's orange.9 is not).
    <Badge color="#a63c00" variant="filled">
      {t(level === 1 ? "worklist.pastTarget" : "worklist.pastTwiceTarget")}
    </Badge>
  );
}
