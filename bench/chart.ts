/**
 * docs/performance.svg: throughput, CPU per order and cost per million orders for each
 * configuration, side by side with the talk's Celery pipeline. Plain SVG, no library.
 */

interface Bar {
  readonly label: string;
  readonly value: number;
  readonly colour: string;
  readonly note?: string;
}

const COLOURS = { celery: '#9aa0a6', naive: '#e8710a', default: '#1a73e8', tuned: '#188038' };

function panel(x: number, title: string, unit: string, bars: readonly Bar[], format: (n: number) => string): string {
  const width = 300;
  const height = 220;
  const top = 60;
  const max = Math.max(...bars.map((b) => b.value), 1e-9);
  const barWidth = 56;
  const gap = (width - bars.length * barWidth) / (bars.length + 1);
  const items = bars.map((bar, i) => {
    const h = Math.max(2, (bar.value / max) * (height - 40));
    const bx = x + gap + i * (barWidth + gap);
    const by = top + height - h;
    return [
      `<rect x="${bx.toFixed(1)}" y="${by.toFixed(1)}" width="${barWidth}" height="${h.toFixed(1)}" rx="3" fill="${bar.colour}"/>`,
      `<text x="${(bx + barWidth / 2).toFixed(1)}" y="${(by - 6).toFixed(1)}" text-anchor="middle" font-size="13" font-weight="600" fill="#202124">${format(bar.value)}</text>`,
      `<text x="${(bx + barWidth / 2).toFixed(1)}" y="${top + height + 18}" text-anchor="middle" font-size="12" fill="#3c4043">${bar.label}</text>`,
      bar.note
        ? `<text x="${(bx + barWidth / 2).toFixed(1)}" y="${top + height + 33}" text-anchor="middle" font-size="10" fill="#5f6368">${bar.note}</text>`
        : '',
    ].join('');
  });
  return [
    `<text x="${x + width / 2}" y="30" text-anchor="middle" font-size="15" font-weight="700" fill="#202124">${title}</text>`,
    `<text x="${x + width / 2}" y="47" text-anchor="middle" font-size="11" fill="#5f6368">${unit}</text>`,
    `<line x1="${x + 10}" y1="${top + height}" x2="${x + width - 10}" y2="${top + height}" stroke="#dadce0"/>`,
    ...items,
  ].join('\n');
}

export function renderChart(result: {
  e2e: { ordersPerSecond: number; cpuMsPerOrder: number };
  e2eTuned: { ordersPerSecond: number; cpuMsPerOrder: number };
  costPerMillionOrdersUsd: { naive: number; default: number; tuned: number };
  celery: Record<string, unknown>;
  at: string;
  mode: string;
}): string {
  const celery = result.celery as { measured: boolean; ordersPerSecond?: number; cpuMsPerOrder?: number };
  const celeryBar = (value: number | undefined, fallback: number): Bar => ({
    label: 'Celery',
    value: celery.measured && value !== undefined ? value : fallback,
    colour: COLOURS.celery,
    note: celery.measured ? 'measured' : 'reference',
  });
  const throughput = panel(
    0,
    'Throughput',
    'orders per second, end to end (higher is better)',
    [
      celeryBar(celery.ordersPerSecond, 385),
      { label: 'default', value: result.e2e.ordersPerSecond, colour: COLOURS.default },
      { label: 'tuned', value: result.e2eTuned.ordersPerSecond, colour: COLOURS.tuned },
    ],
    (n) => String(Math.round(n)),
  );
  const cpu = panel(
    320,
    'CPU per order',
    'ms, all processes (lower is better)',
    [
      celeryBar(celery.cpuMsPerOrder, 5),
      { label: 'default', value: result.e2e.cpuMsPerOrder, colour: COLOURS.default },
      { label: 'tuned', value: result.e2eTuned.cpuMsPerOrder, colour: COLOURS.tuned },
    ],
    (n) => n.toFixed(1),
  );
  const cost = panel(
    640,
    'Cost per million orders',
    'USD on AWS, without API Gateway (lower is better)',
    [
      { label: 'naive', value: result.costPerMillionOrdersUsd.naive, colour: COLOURS.naive },
      { label: 'default', value: result.costPerMillionOrdersUsd.default, colour: COLOURS.default },
      { label: 'tuned', value: result.costPerMillionOrdersUsd.tuned, colour: COLOURS.tuned },
    ],
    (n) => `$${n.toFixed(2)}`,
  );
  return [
    '<svg xmlns="http://www.w3.org/2000/svg" width="960" height="340" viewBox="0 0 960 340" font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif">',
    '<rect width="960" height="340" fill="#ffffff"/>',
    throughput,
    cpu,
    cost,
    `<text x="950" y="332" text-anchor="end" font-size="10" fill="#80868b">npm run bench (${result.mode}), ${result.at.slice(0, 10)} — 2 cores; default = batches of 100, full tracking; tuned = terminal tracking; naive = batch size 1</text>`,
    '</svg>',
    '',
  ].join('\n');
}
