"""tap.py: the "ok - / not ok -" lines and the tally the Python script tests print."""


class Tap:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, what, ok, detail=""):
        """Prints one result; detail (already indented) follows a failure."""
        if ok:
            self.passed += 1
            print(f"ok - {what}")
        else:
            self.failed += 1
            print(f"not ok - {what}" + ("\n" + detail if detail else ""))
        return ok

    def finish(self):
        """Prints the tally; the exit status: 0 when nothing failed."""
        print(f"{self.passed} passed, {self.failed} failed")
        return 0 if self.failed == 0 else 1
