/** The CSV summary: one row per outcome, species, breed and error code, largest first. */
import assert from 'node:assert/strict';
import { csvField, SummaryTable } from '../../server/batch/summary';

const pet = (key: string, breed: string, confidence: number) => ({
  key,
  isPet: true,
  species: 'dog' as const,
  breed,
  confidence,
  predictions: [],
  model: { name: 'm', version: '1' },
});

describe('SummaryTable', () => {
  it('counts photos per breed with their mean confidence, and errors per code', () => {
    const table = new SummaryTable();
    table.add(pet('a', 'Samoyed', 0.9));
    table.add(pet('b', 'Samoyed', 0.7));
    table.add(pet('c', 'Pug, pug-dog', 0.5));
    table.add({
      key: 'd',
      isPet: false,
      species: null,
      breed: null,
      confidence: 0.2,
      predictions: [],
      model: { name: 'm', version: '1' },
    });
    table.add({ key: 'e', error: { code: 'undecodable_image', message: 'x' } });
    table.add({ key: 'f', error: { code: 'undecodable_image', message: 'y' } });

    assert.equal(
      table.toCsv(),
      [
        'outcome,species,breed,error_code,photos,mean_confidence',
        'error,,,undecodable_image,2,',
        'pet,dog,Samoyed,,2,0.8000',
        'not_pet,,,,1,0.2000',
        'pet,dog,"Pug, pug-dog",,1,0.5000',
        '',
      ].join('\n'),
    );
  });
});

describe('csvField', () => {
  it('quotes commas, quotes and line breaks only', () => {
    assert.equal(csvField('plain'), 'plain');
    assert.equal(csvField('say "hi"'), '"say ""hi"""');
    assert.equal(csvField('a\nb'), '"a\nb"');
  });
});
