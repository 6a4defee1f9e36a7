/** A bar chart as SVG, rendered to PNG with resvg (prebuilt, from npm) and the system's fonts. */
import { Resvg } from '@resvg/resvg-js';

export interface Bar {
  label: string;
  value: number;
  color: string;
}

const escapeXml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;');

export const barChartPng = (title: string, subtitle: string, unit: string, bars: Bar[]): Buffer => {
  const width = 760;
  const height = 420;
  const left = 70;
  const bottom = 350;
  const top = 80;
  const max = Math.max(...bars.map((bar) => bar.value)) * 1.15;
  const slot = (width - left - 40) / bars.length;
  const y = (value: number) => bottom - ((bottom - top) * value) / max;
  const ticks = Array.from({ length: 5 }, (_, index) => (max / 5) * (index + 1));
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="DejaVu Sans, sans-serif">
  <rect width="100%" height="100%" fill="#ffffff"/>
  <text x="${left}" y="32" font-size="20" font-weight="bold">${escapeXml(title)}</text>
  <text x="${left}" y="56" font-size="13" fill="#555">${escapeXml(subtitle)}</text>
  ${ticks
    .map(
      (tick) =>
        `<line x1="${left}" x2="${width - 30}" y1="${y(tick)}" y2="${y(tick)}" stroke="#e5e5e5"/><text x="${left - 8}" y="${y(tick) + 4}" font-size="11" text-anchor="end" fill="#777">${Math.round(tick).toLocaleString('en-US')}</text>`,
    )
    .join('\n  ')}
  <line x1="${left}" x2="${width - 30}" y1="${bottom}" y2="${bottom}" stroke="#333"/>
  <text transform="translate(18 ${(top + bottom) / 2}) rotate(-90)" font-size="12" text-anchor="middle" fill="#555">${escapeXml(unit)}</text>
  ${bars
    .map((bar, index) => {
      const x = left + slot * index + slot * 0.2;
      const barWidth = slot * 0.6;
      return `<rect x="${x}" y="${y(bar.value)}" width="${barWidth}" height="${bottom - y(bar.value)}" fill="${bar.color}"/>
  <text x="${x + barWidth / 2}" y="${y(bar.value) - 8}" font-size="14" font-weight="bold" text-anchor="middle">${Math.round(bar.value).toLocaleString('en-US')}</text>
  <text x="${x + barWidth / 2}" y="${bottom + 22}" font-size="13" text-anchor="middle">${escapeXml(bar.label)}</text>`;
    })
    .join('\n  ')}
</svg>`;
  return new Resvg(svg, { font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' } }).render().asPng();
};
