/**
 * The CSV summary of a run (`--summary out.csv`): how many photos went to each outcome, breed
 * by breed, with their mean confidence, and how many failed with each error code. It covers
 * every result in the output, including those found there from earlier runs.
 */
import { writeFile } from 'node:fs/promises';
import { isFailure, type ResultRecord } from './record';

/** Columns of the summary, in order. */
export const SUMMARY_COLUMNS = [
  'outcome',
  'species',
  'breed',
  'error_code',
  'photos',
  'mean_confidence',
] as const;

interface Row {
  outcome: 'pet' | 'not_pet' | 'error';
  species: string;
  breed: string;
  errorCode: string;
  photos: number;
  confidenceSum: number;
}

/** Counts results by outcome, species, breed and error code. */
export class SummaryTable {
  private readonly rows = new Map<string, Row>();

  /** Adds one result. */
  add(record: ResultRecord): void {
    const row = isFailure(record)
      ? this.row('error', '', '', record.error.code)
      : this.row(record.isPet ? 'pet' : 'not_pet', record.species ?? '', record.breed ?? '', '');
    row.photos += 1;
    if (!isFailure(record)) row.confidenceSum += record.confidence;
  }

  /** The table as CSV text, largest groups first. */
  toCsv(): string {
    const rows = [...this.rows.values()].sort(
      (a, b) =>
        b.photos - a.photos || a.outcome.localeCompare(b.outcome) || a.breed.localeCompare(b.breed),
    );
    const lines = rows.map((row) =>
      [
        row.outcome,
        row.species,
        row.breed,
        row.errorCode,
        String(row.photos),
        row.outcome === 'error' ? '' : (row.confidenceSum / row.photos).toFixed(4),
      ]
        .map(csvField)
        .join(','),
    );
    return `${[SUMMARY_COLUMNS.join(','), ...lines].join('\n')}\n`;
  }

  /** Writes the CSV to `file`. */
  async write(file: string): Promise<void> {
    await writeFile(file, this.toCsv());
  }

  private row(outcome: Row['outcome'], species: string, breed: string, errorCode: string): Row {
    const id = JSON.stringify([outcome, species, breed, errorCode]);
    let row = this.rows.get(id);
    if (!row) {
      row = { outcome, species, breed, errorCode, photos: 0, confidenceSum: 0 };
      this.rows.set(id, row);
    }
    return row;
  }
}

/** Quotes a field when it holds a comma, a quote or a line break (RFC 4180). */
export function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}
