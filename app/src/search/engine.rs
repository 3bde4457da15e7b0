//! The search engine: a trait, and its in-process implementation on tantivy.
//!
//! The index holds each item whole (as stored JSON), so a search is answered from memory without
//! a database round trip; stock in results may lag a change by the event stream's delay and the
//! indexer's cadence (half a second, two seconds for a sale's holds; `server/src/jobs.rs`),
//! while an item's own page refreshes its stock by itself.
//!
//! A sale's searches repeat (a few popular queries make most of them), and fuzzy matching is the
//! costly part: the answers of recent searches are kept until the index next changes.

use std::collections::HashMap;
use std::ops::Bound;
use std::sync::Mutex;

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use tantivy::collector::{Count, FacetCollector, TopDocs};
use tantivy::query::{
    AllQuery, BooleanQuery, BoostQuery, FuzzyTermQuery, Occur, Query, RangeQuery, TermQuery,
};
use tantivy::schema::{
    FAST, FacetOptions, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema,
    TextFieldIndexing, TextOptions, Value,
};
use tantivy::tokenizer::TokenStream;
use tantivy::{
    DocAddress, Index, IndexReader, IndexWriter, Order, ReloadPolicy, TantivyDocument, Term,
};

use super::model::{SearchQuery, SearchSort};
use crate::catalog::model::{CategoryId, Item};
use crate::shard::id::ItemId;

/// What a search engine must do. Implementations are shared by every request of a server copy.
pub trait SearchEngine: Send + Sync {
    /// Adds or replaces items (by ID). Visible to searches after [`SearchEngine::commit`].
    fn upsert(&self, items: &[Item]) -> Result<(), SearchError>;
    /// Removes items. Visible after [`SearchEngine::commit`].
    fn remove(&self, ids: &[ItemId]) -> Result<(), SearchError>;
    /// Makes every change so far visible to searches.
    fn commit(&self) -> Result<(), SearchError>;
    /// One page of matches, and the number of matches per category ignoring the category filter.
    fn search(&self, query: &SearchQuery) -> Result<EngineResults, SearchError>;
}

/// What an engine answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineResults {
    pub items: Vec<Item>,
    pub total: u64,
    pub categories: Vec<(CategoryId, u64)>,
}

/// Why the engine failed.
#[derive(Debug, thiserror::Error)]
#[error("search index: {0}")]
pub struct SearchError(String);

impl From<tantivy::TantivyError> for SearchError {
    fn from(error: tantivy::TantivyError) -> Self {
        SearchError(error.to_string())
    }
}

/// Memory for the index writer's buffer before it flushes a segment: tantivy's least. Every
/// commit starts a new segment whose term table is sized from it (a third) and zeroed, so at 50 MB
/// a sale's two commits a second cost 3 % of the shop's CPU in page faults alone; a sale's commit
/// holds a few hundred items, far below either.
const WRITER_MEMORY_BYTES: usize = 15_000_000;
/// Prices are indexed as integers of 1/10,000 (the SQL scale), never as floats.
const PRICE_SCALE: i64 = 10_000;
/// The most answers kept between two commits; past it, the oldest generation's are dropped at once.
const RECENT_ANSWERS: usize = 1024;

/// The clauses of a boolean query.
type Clauses = Vec<(Occur, Box<dyn Query>)>;

struct Fields {
    id: Field,
    name: Field,
    description: Field,
    category: Field,
    price: Field,
    stock: Field,
    created: Field,
    item: Field,
}

/// tantivy, in memory.
pub struct TantivyEngine {
    index: Index,
    reader: IndexReader,
    writer: Mutex<IndexWriter>,
    fields: Fields,
    recent: Mutex<Recent>,
}

/// Answers given since the last commit, by query. `generation` counts commits: an answer computed
/// before a commit is not kept after it.
#[derive(Default)]
struct Recent {
    generation: u64,
    answers: HashMap<String, EngineResults>,
}

fn price_units(price: Decimal) -> i64 {
    (price * Decimal::from(PRICE_SCALE))
        .trunc()
        .to_i64()
        .unwrap_or(i64::MAX)
}

fn category_facet(id: CategoryId) -> tantivy::schema::Facet {
    tantivy::schema::Facet::from(format!("/c/{}", id.0).as_str())
}

impl TantivyEngine {
    /// An empty index.
    pub fn new() -> Result<Self, SearchError> {
        let mut schema = Schema::builder();
        // English stemming: "headphone" finds "Headphones".
        let text = TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer("en_stem")
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        );
        let fields = Fields {
            id: schema.add_text_field("id", STRING),
            name: schema.add_text_field("name", text.clone()),
            description: schema.add_text_field("description", text),
            category: schema.add_facet_field("category", FacetOptions::default()),
            price: schema.add_i64_field("price", INDEXED | FAST),
            stock: schema.add_u64_field("stock", INDEXED | FAST),
            created: schema.add_i64_field("created", FAST),
            item: schema.add_text_field("item", STORED),
        };
        let index = Index::create_in_ram(schema.build());
        let writer = index.writer_with_num_threads(1, WRITER_MEMORY_BYTES)?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(TantivyEngine {
            index,
            reader,
            writer: Mutex::new(writer),
            fields,
            recent: Mutex::default(),
        })
    }

    fn writer(&self) -> Result<std::sync::MutexGuard<'_, IndexWriter>, SearchError> {
        self.writer
            .lock()
            .map_err(|_| SearchError("the index writer panicked".into()))
    }

    /// The words of `text` as the index analysed names and descriptions.
    fn terms(&self, text: &str) -> Result<Vec<String>, SearchError> {
        let mut analyzer = self.index.tokenizer_for_field(self.fields.name)?;
        let mut stream = analyzer.token_stream(text);
        let mut terms = Vec::new();
        while stream.advance() {
            let term = stream.token().text.clone();
            if !terms.contains(&term) {
                terms.push(term);
            }
        }
        Ok(terms)
    }

    /// Every word must match the name or the description, exactly (scored higher) or within a
    /// few typos (longer words forgive more).
    fn text_query(&self, text: &str) -> Result<Option<Box<dyn Query>>, SearchError> {
        let terms = self.terms(text)?;
        if terms.is_empty() {
            return Ok(None);
        }
        let mut clauses: Clauses = Vec::new();
        for word in terms {
            let distance = match word.chars().count() {
                0..=3 => 0,
                4..=7 => 1,
                _ => 2,
            };
            let mut alternatives: Clauses = Vec::new();
            for (field, exact_boost, fuzzy_boost) in [
                (self.fields.name, 4.0, 2.0),
                (self.fields.description, 1.0, 0.5),
            ] {
                let term = Term::from_field_text(field, &word);
                alternatives.push((
                    Occur::Should,
                    Box::new(BoostQuery::new(
                        Box::new(TermQuery::new(term.clone(), IndexRecordOption::WithFreqs)),
                        exact_boost,
                    )),
                ));
                if distance > 0 {
                    alternatives.push((
                        Occur::Should,
                        Box::new(BoostQuery::new(
                            Box::new(FuzzyTermQuery::new(term, distance, true)),
                            fuzzy_boost,
                        )),
                    ));
                }
            }
            clauses.push((Occur::Must, Box::new(BooleanQuery::new(alternatives))));
        }
        Ok(Some(Box::new(BooleanQuery::new(clauses))))
    }

    /// The query for everything but the category filter.
    fn base_query(&self, query: &SearchQuery) -> Result<Clauses, SearchError> {
        let mut clauses: Clauses = Vec::new();
        if let Some(text) = self.text_query(&query.text)? {
            clauses.push((Occur::Must, text));
        }
        if query.min_price.is_some() || query.max_price.is_some() {
            let bound = |price: Option<Decimal>| match price {
                Some(price) => {
                    Bound::Included(Term::from_field_i64(self.fields.price, price_units(price)))
                }
                None => Bound::Unbounded,
            };
            clauses.push((
                Occur::Must,
                Box::new(RangeQuery::new(
                    bound(query.min_price),
                    bound(query.max_price),
                )),
            ));
        }
        if query.in_stock {
            clauses.push((
                Occur::Must,
                Box::new(RangeQuery::new(
                    Bound::Included(Term::from_field_u64(self.fields.stock, 1)),
                    Bound::Unbounded,
                )),
            ));
        }
        if clauses.is_empty() {
            clauses.push((Occur::Must, Box::new(AllQuery)));
        }
        Ok(clauses)
    }

    fn item_at(
        &self,
        searcher: &tantivy::Searcher,
        address: DocAddress,
    ) -> Result<Item, SearchError> {
        let document: TantivyDocument = searcher.doc(address)?;
        let json = document
            .get_first(self.fields.item)
            .and_then(|value| value.as_str())
            .ok_or_else(|| SearchError("a document without its item".into()))?;
        serde_json::from_str(json).map_err(|e| SearchError(e.to_string()))
    }
}

impl SearchEngine for TantivyEngine {
    fn upsert(&self, items: &[Item]) -> Result<(), SearchError> {
        let writer = self.writer()?;
        for item in items {
            let id = item.id.to_string();
            writer.delete_term(Term::from_field_text(self.fields.id, &id));
            let json = serde_json::to_string(item).map_err(|e| SearchError(e.to_string()))?;
            let mut document = TantivyDocument::default();
            document.add_text(self.fields.id, &id);
            document.add_text(self.fields.name, &item.name);
            document.add_text(self.fields.description, &item.description);
            document.add_facet(self.fields.category, category_facet(item.category_id));
            document.add_i64(self.fields.price, price_units(item.price));
            document.add_u64(self.fields.stock, u64::from(item.stock));
            document.add_i64(self.fields.created, item.created_at.timestamp_micros());
            document.add_text(self.fields.item, &json);
            writer.add_document(document)?;
        }
        Ok(())
    }

    fn remove(&self, ids: &[ItemId]) -> Result<(), SearchError> {
        let writer = self.writer()?;
        for id in ids {
            writer.delete_term(Term::from_field_text(self.fields.id, &id.to_string()));
        }
        Ok(())
    }

    fn commit(&self) -> Result<(), SearchError> {
        self.writer()?.commit()?;
        self.reader.reload()?;
        if let Ok(mut recent) = self.recent.lock() {
            recent.generation += 1;
            recent.answers.clear();
        }
        Ok(())
    }

    fn search(&self, query: &SearchQuery) -> Result<EngineResults, SearchError> {
        let key = serde_json::to_string(query).map_err(|e| SearchError(e.to_string()))?;
        let generation = match self.recent.lock() {
            Ok(recent) => {
                if let Some(answer) = recent.answers.get(&key) {
                    return Ok(answer.clone());
                }
                recent.generation
            }
            Err(_) => return self.answer(query),
        };
        let answer = self.answer(query)?;
        if let Ok(mut recent) = self.recent.lock()
            && recent.generation == generation
        {
            if recent.answers.len() >= RECENT_ANSWERS {
                recent.answers.clear();
            }
            recent.answers.insert(key, answer.clone());
        }
        Ok(answer)
    }
}

impl TantivyEngine {
    /// Runs a search on the index as it was last committed.
    fn answer(&self, query: &SearchQuery) -> Result<EngineResults, SearchError> {
        let searcher = self.reader.searcher();
        let base = self.base_query(query)?;

        let mut facets = FacetCollector::for_field("category");
        facets.add_facet("/c");
        let unfiltered = BooleanQuery::new(base.iter().map(|(o, q)| (*o, q.box_clone())).collect());
        let counts = searcher.search(&unfiltered, &facets)?;
        let categories = counts
            .get("/c")
            .filter_map(|(facet, count)| {
                let id = facet.to_path().last()?.parse().ok()?;
                Some((CategoryId(id), count))
            })
            .collect();

        let mut clauses = base;
        if let Some(category) = query.category {
            clauses.push((
                Occur::Must,
                Box::new(TermQuery::new(
                    Term::from_facet(self.fields.category, &category_facet(category)),
                    IndexRecordOption::Basic,
                )),
            ));
        }
        let filtered = BooleanQuery::new(clauses);
        let limit = usize::try_from(query.page.per_page).unwrap_or(1).max(1);
        let offset = usize::try_from(query.page.offset()).unwrap_or(0);
        let top = TopDocs::with_limit(limit).and_offset(offset);
        let sort = match query.sort {
            SearchSort::Relevance if query.text.trim().is_empty() => SearchSort::Newest,
            sort => sort,
        };
        let (addresses, total): (Vec<DocAddress>, usize) = match sort {
            SearchSort::Relevance => {
                let (hits, total) = searcher.search(&filtered, &(top, Count))?;
                (
                    hits.into_iter().map(|(_, address)| address).collect(),
                    total,
                )
            }
            SearchSort::PriceAsc | SearchSort::PriceDesc | SearchSort::Newest => {
                let (field, order) = match sort {
                    SearchSort::PriceAsc => ("price", Order::Asc),
                    SearchSort::PriceDesc => ("price", Order::Desc),
                    _ => ("created", Order::Desc),
                };
                let (hits, total) = searcher.search(
                    &filtered,
                    &(top.order_by_fast_field::<i64>(field, order), Count),
                )?;
                (
                    hits.into_iter().map(|(_, address)| address).collect(),
                    total,
                )
            }
        };
        let items = addresses
            .into_iter()
            .map(|address| self.item_at(&searcher, address))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(EngineResults {
            items,
            total: u64::try_from(total).unwrap_or(u64::MAX),
            categories,
        })
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::money::Currency;
    use crate::search::model::SearchParams;
    use crate::shard::ShardId;

    fn item(local: u64, name: &str, stock: u32) -> Item {
        let now = Utc::now();
        Item {
            id: ItemId::new(ShardId::try_from(0_u16).unwrap(), local).unwrap(),
            category_id: CategoryId(1),
            name: name.into(),
            description: "A sale item".into(),
            price: Decimal::new(1999, 2),
            currency: Currency::EUR,
            stock,
            location: "Shelf".into(),
            created_at: now,
            updated_at: now,
        }
    }

    fn query(text: &str) -> SearchQuery {
        SearchParams {
            q: Some(text.into()),
            ..Default::default()
        }
        .parse()
        .unwrap()
    }

    #[test]
    fn a_repeated_search_sees_every_commit_since_its_last_answer() {
        let engine = TantivyEngine::new().unwrap();
        engine.upsert(&[item(1, "Kettle", 5)]).unwrap();
        engine.commit().unwrap();
        let first = engine.search(&query("kettel")).unwrap();
        assert_eq!(first.total, 1);
        assert_eq!(first.items[0].stock, 5);
        // The same answer again, until the index changes.
        assert_eq!(engine.search(&query("kettel")).unwrap(), first);

        engine
            .upsert(&[item(1, "Kettle", 4), item(2, "Steel kettle", 9)])
            .unwrap();
        // Not committed yet: searches still see the last commit.
        assert_eq!(engine.search(&query("kettel")).unwrap(), first);
        engine.commit().unwrap();
        let after = engine.search(&query("kettel")).unwrap();
        assert_eq!(after.total, 2);
        let kettle = after.items.iter().find(|i| i.id.local() == 1).unwrap();
        assert_eq!(kettle.stock, 4);

        engine
            .remove(&[ItemId::new(ShardId::try_from(0_u16).unwrap(), 2).unwrap()])
            .unwrap();
        engine.commit().unwrap();
        assert_eq!(engine.search(&query("kettel")).unwrap().total, 1);
    }
}
