//! Search requests and results, shared by the server and the browser.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::catalog::model::{CategoryId, FieldErrors, Item, Page, PageRequest};
use crate::error::AppError;
use crate::money::MAX_PRICE;

/// Longest search text, in characters.
pub const MAX_QUERY_CHARS: usize = 200;
/// How many results a page shows by default.
pub const DEFAULT_PER_PAGE: u32 = 24;

/// How results are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SearchSort {
    /// Best match first (newest first when there is no text).
    #[default]
    Relevance,
    PriceAsc,
    PriceDesc,
    Newest,
}

impl SearchSort {
    /// Every order, for the sort menu.
    pub const ALL: [SearchSort; 4] = [
        SearchSort::Relevance,
        SearchSort::PriceAsc,
        SearchSort::PriceDesc,
        SearchSort::Newest,
    ];

    /// The name in URLs.
    pub fn as_str(self) -> &'static str {
        match self {
            SearchSort::Relevance => "relevance",
            SearchSort::PriceAsc => "price_asc",
            SearchSort::PriceDesc => "price_desc",
            SearchSort::Newest => "newest",
        }
    }

    /// What the sort menu shows.
    pub fn label(self) -> &'static str {
        match self {
            SearchSort::Relevance => "Best match",
            SearchSort::PriceAsc => "Price: low to high",
            SearchSort::PriceDesc => "Price: high to low",
            SearchSort::Newest => "Newest",
        }
    }

    fn parse(text: &str) -> Result<Self, String> {
        SearchSort::ALL
            .into_iter()
            .find(|sort| sort.as_str() == text)
            .ok_or_else(|| "must be relevance, price_asc, price_desc or newest".into())
    }
}

/// A search as it arrives in a URL's query string: every field optional and unparsed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "ssr", into_params(parameter_in = Query))]
pub struct SearchParams {
    /// Words to find in names and descriptions (misspellings are forgiven).
    pub q: Option<String>,
    /// Only this category (its ID).
    pub category: Option<String>,
    /// Lowest price, inclusive.
    pub min_price: Option<String>,
    /// Highest price, inclusive.
    pub max_price: Option<String>,
    /// `true` (or `1`, `on`): only items in stock.
    pub in_stock: Option<String>,
    /// `relevance` (default), `price_asc`, `price_desc` or `newest`.
    pub sort: Option<String>,
    /// 1-based page number.
    pub page: Option<String>,
    /// Results per page, 1 to 100 (default 24).
    pub per_page: Option<String>,
}

/// A validated search.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchQuery {
    pub text: String,
    pub category: Option<CategoryId>,
    pub min_price: Option<Decimal>,
    pub max_price: Option<Decimal>,
    pub in_stock: bool,
    pub sort: SearchSort,
    pub page: PageRequest,
}

fn blank_to_none(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

fn parse_price(text: &str) -> Result<Decimal, String> {
    let price: Decimal = text.parse().map_err(|_| "must be a number".to_owned())?;
    if price < Decimal::ZERO || price > MAX_PRICE {
        return Err(format!("must be between 0 and {MAX_PRICE}"));
    }
    Ok(price)
}

fn parse_number(text: &str) -> Result<u32, String> {
    text.parse()
        .map_err(|_| "must be a whole number".to_owned())
}

impl SearchParams {
    /// Validates every parameter, naming each that fails.
    pub fn parse(&self) -> Result<SearchQuery, AppError> {
        let mut errors = FieldErrors::default();
        let text = self.q.as_deref().unwrap_or_default().trim().to_owned();
        if text.chars().count() > MAX_QUERY_CHARS {
            errors.add("q", format!("must be at most {MAX_QUERY_CHARS} characters"));
        }
        let category = blank_to_none(&self.category).and_then(|c| {
            errors.check(
                "category",
                c.parse::<u64>()
                    .map(CategoryId)
                    .map_err(|_| "must be a category ID".to_owned()),
            )
        });
        let min_price =
            blank_to_none(&self.min_price).and_then(|p| errors.check("min_price", parse_price(p)));
        let max_price =
            blank_to_none(&self.max_price).and_then(|p| errors.check("max_price", parse_price(p)));
        if let (Some(min), Some(max)) = (min_price, max_price)
            && min > max
        {
            errors.add("max_price", "must not be below the lowest price");
        }
        let in_stock = match blank_to_none(&self.in_stock) {
            None | Some("false" | "0" | "off") => false,
            Some("true" | "1" | "on") => true,
            Some(_) => {
                errors.add("in_stock", "must be true or false");
                false
            }
        };
        let sort = blank_to_none(&self.sort)
            .and_then(|s| errors.check("sort", SearchSort::parse(s)))
            .unwrap_or_default();
        let page_number =
            blank_to_none(&self.page).and_then(|p| errors.check("page", parse_number(p)));
        let per_page =
            blank_to_none(&self.per_page).and_then(|p| errors.check("per_page", parse_number(p)));
        errors.finish()?;
        let page = PageRequest::parse(page_number, per_page, DEFAULT_PER_PAGE)?;
        Ok(SearchQuery {
            text,
            category,
            min_price,
            max_price,
            in_stock,
            sort,
            page,
        })
    }
}

/// How many results a category has, for the category filter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CategoryCount {
    #[cfg_attr(feature = "ssr", schema(value_type = u64))]
    pub category_id: CategoryId,
    pub name: String,
    pub count: u64,
}

/// One page of results, and the count per category of the same search without the category
/// filter (so the filter can offer every category that has matches).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SearchResults {
    pub results: Page<Item>,
    pub categories: Vec<CategoryCount>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> SearchParams {
        let mut params = SearchParams::default();
        for (key, value) in pairs {
            let value = Some((*value).to_owned());
            match *key {
                "q" => params.q = value,
                "category" => params.category = value,
                "min_price" => params.min_price = value,
                "max_price" => params.max_price = value,
                "in_stock" => params.in_stock = value,
                "sort" => params.sort = value,
                "page" => params.page = value,
                _ => unreachable!(),
            }
        }
        params
    }

    #[test]
    fn an_empty_search_is_everything_by_relevance() {
        let query = SearchParams::default().parse().unwrap();
        assert_eq!(query.text, "");
        assert_eq!(query.sort, SearchSort::Relevance);
        assert_eq!(query.page.per_page, DEFAULT_PER_PAGE);
        assert!(!query.in_stock);
    }

    #[test]
    fn blank_form_fields_mean_no_filter() {
        let query = params(&[("category", ""), ("min_price", " "), ("in_stock", "")])
            .parse()
            .unwrap();
        assert_eq!(query.category, None);
        assert_eq!(query.min_price, None);
    }

    #[test]
    fn every_bad_parameter_is_named() {
        let error = params(&[
            ("category", "tv"),
            ("min_price", "-1"),
            ("max_price", "abc"),
            ("in_stock", "maybe"),
            ("sort", "random"),
            ("page", "first"),
        ])
        .parse()
        .unwrap_err();
        let AppError::Validation { fields } = error else {
            panic!("a validation error")
        };
        let names: Vec<_> = fields.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            [
                "category",
                "in_stock",
                "max_price",
                "min_price",
                "page",
                "sort"
            ]
        );
    }

    #[test]
    fn a_price_range_must_not_be_upside_down() {
        assert!(
            params(&[("min_price", "50"), ("max_price", "10")])
                .parse()
                .is_err()
        );
        let query = params(&[("min_price", "10"), ("max_price", "50.5")])
            .parse()
            .unwrap();
        assert_eq!(query.max_price, Some("50.5".parse().unwrap()));
    }
}
