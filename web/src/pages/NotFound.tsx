import { Link } from "react-router";
import { buttonClass } from "../components/ui/button";

export function NotFoundPage() {
  return (
    <div className="mx-auto max-w-md py-16 text-center">
      <h1 className="text-xl font-semibold">Not found</h1>
      <p className="mt-2 text-sm text-muted-fg">This page does not exist, or your role does not include it.</p>
      <Link to="/" className={buttonClass("secondary") + " mt-6"}>
        Go to the dashboard
      </Link>
    </div>
  );
}
