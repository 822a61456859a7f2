import { Link } from "react-router";
import { Notice } from "./ui/feedback";

/** Under an organization dropdown with nothing to choose: where to make the first one. */
export function NoOrgsNotice({ orgs }: { orgs: { isSuccess: boolean; data?: unknown[] } }) {
  if (!orgs.isSuccess || (orgs.data?.length ?? 0) > 0) return null;
  return (
    <Notice>
      There is no organization yet.{" "}
      <Link to="/orgs?new=1" className="font-medium text-primary underline">
        Create an organization
      </Link>
    </Notice>
  );
}
