"""The demo's plain-words description of a model: every feature set of the recipes has its own words."""

from dermfeat.pipeline._recipes import EMBEDDINGS, HANDCRAFTED
from dermfeat.serve._page import FEATURE_WORDS, describe_model


def test_every_feature_set_has_plain_words():
    names = [n.removesuffix("_int8") for n in list(EMBEDDINGS) + list(HANDCRAFTED)]
    assert sorted(set(names) - set(FEATURE_WORDS)) == []


def test_the_subtype_ensemble_reads_as_three_networks():
    text = describe_model({"features": "efficientnet+efficientnet_lite2+dinov2_336_lesion", "head": "logistic"})
    assert "EfficientNet-Lite0" in text and "EfficientNet-Lite2" in text and "looking at the lesion" in text
