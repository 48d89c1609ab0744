import { chromium, type Browser } from "playwright-core";

/**
 * Debian's Chromium (apt-get install chromium; scripts/bootstrap.sh installs it), headless, with
 * everything that would reach the network on its own switched off.
 */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}
