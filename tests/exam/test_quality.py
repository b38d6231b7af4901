"""Issue 19: the item checker's rules and the cue strategies, on items written for each case.
(Each rule's precision and recall on the labelled set: tests/items/test_quality_labelled.py.)"""

from __future__ import annotations

from examengine.exam.items import ItemDraft, ItemType
from examengine.exam.quality import (
    Severity,
    absolute_words,
    check_item_quality,
    check_items,
    cue_scores,
    similar_pairs,
    tag_fit,
)


def single(ident, stem, options, key, **kw) -> ItemDraft:
    return ItemDraft(ident, ItemType.SINGLE, stem, tuple(options), (key,), requirements=("530046-L1-1.1.1",), **kw)


def multiple(ident, stem, options, key, **kw) -> ItemDraft:
    return ItemDraft(ident, ItemType.MULTIPLE, stem, tuple(options), tuple(key),
                     requirements=("530046-L1-1.1.1",), **kw)


def true_false(ident, stem, true: bool, **kw) -> ItemDraft:
    return ItemDraft(ident, ItemType.TRUE_FALSE, stem, ("正确", "错误"), (0 if true else 1,),
                     requirements=("530046-L1-1.1.1",), **kw)


def rules(item: ItemDraft) -> set[str]:
    return {f.rule for f in check_item_quality(item)}


def test_a_key_far_longer_than_every_distractor_is_flagged_and_a_slightly_longer_one_is_not():
    flawed = single("X1", "外卖店铺上新菜品时，最合适的做法是（　）",
                    ["直接上架", "降价促销", "先小范围试卖，收集评价与复购数据后再决定是否全量上架并优化菜品描述", "全店推广"], 2)
    assert "key-longest" in rules(flawed)
    finding = next(f for f in check_item_quality(flawed) if f.rule == "key-longest")
    assert finding.severity is Severity.WARNING and finding.item == "X1" and "答案 C" in finding.evidence
    clean = single("X2", "外卖店铺上新菜品时，最合适的做法是（　）",
                   ["先全量上架，再看销量决定是否下架", "先小范围试卖，依据评价与复购决定", "先大幅降价冲量，再恢复原价",
                    "先把新品放进所有套餐里捆绑销售"], 1)
    assert "key-longest" not in rules(clean)


def test_multiple_response_needs_two_wrong_options_and_may_not_key_them_all():
    opts = ["曝光量", "点击率", "转化率", "客单价", "复购率"]
    assert rules(multiple("M1", "下列指标中，属于比率指标的有（　）", opts, [1, 2, 3, 4])) >= {"mr-few-wrong"}
    assert rules(multiple("M2", "下列指标中，属于经营指标的有（　）", opts, [0, 1, 2, 3, 4])) >= {"mr-all-keyed"}
    ok = rules(multiple("M3", "下列指标中，属于比率指标的有（　）", opts, [1, 2, 4]))
    assert not ok & {"mr-few-wrong", "mr-all-keyed"}
    f = next(f for f in check_item_quality(multiple("M1", "下列（　）", opts, [1, 2, 3, 4])) if f.rule == "mr-few-wrong")
    assert f.severity is Severity.ERROR


def test_all_of_the_above_and_english_words_are_errors_established_terms_are_not():
    item = single("A1", "提升团购转化的方法是（　）", ["优化主图", "优化标题", "补充评价", "以上都对"], 3)
    assert "all-of-above" in rules(item)
    leak = single("E1", "社群运营 and 内容运营的共同目标是（　）", ["提升用户价值", "增加粉丝数", "降低成本", "提高曝光"], 0)
    assert "english-leak" in rules(leak)
    terms = single("E2", "某 App 的 DAU 为 2 万，H5 活动页的 CTR 应如何计算（　）",
                   ["点击数÷曝光数", "曝光数÷点击数", "点击数÷访客数", "下单数÷点击数"], 0)
    assert "english-leak" not in rules(terms)


def test_a_negative_stem_must_be_emphasised_and_scenario_negations_do_not_count():
    bare = single("N1", "下列做法中，不符合《广告法》要求的是（　）", ["甲方案", "乙方案", "丙方案", "丁方案"], 0)
    assert "negative-stem" in rules(bare)
    marked = single("N2", "下列做法中，【不符合】《广告法》要求的是（　）", ["甲方案", "乙方案", "丙方案", "丁方案"], 0)
    assert "negative-stem" not in rules(marked)
    scenario = single("N3", "店长表示库存不能及时更新。此时运营人员最先应检查的是（　）",
                      ["库存同步设置", "商品主图", "评价回复", "店铺公告"], 0)
    assert "negative-stem" not in rules(scenario)


def test_absolute_words_mark_false_statements_and_uneven_options():
    assert "tf-absolute" in rules(true_false("T1", "直播间的所有商品都必须参加满减活动。", False))
    assert "tf-absolute" not in rules(true_false("T2", "广告中不得使用“国家级”“最高级”等用语，一律禁止。", True))
    assert "tf-absolute" not in rules(true_false("T3", "转化率等于下单人数除以访客数。", False))
    uneven = single("U1", "发现活动页面转化率下降时，运营人员应（　）",
                    ["一律下线活动页面", "先对比各环节数据定位流失环节", "所有商品立即降价", "任何改动都暂停"], 1)
    assert "absolute-uneven" in rules(uneven)
    assert absolute_words("一只猫只读了一页") == []  # 一只, 只读 are not the absolute 只


def test_half_width_punctuation_in_chinese_text_but_not_in_numbers():
    assert "half-width-punct" in rules(true_false("P1", "转化率(下单人数/访客数)是核心指标,应每日关注。", True))
    assert "half-width-punct" not in rules(true_false("P2", "客单价为 1,200.5 元，转化率为 3.5%。", True))


def test_an_echo_of_the_stem_in_the_key_only_is_flagged():
    echo = single("W1", "为提升社群的活跃度与留存率，运营人员应优先（　）",
                  ["设计提升活跃度与留存率的社群签到打卡机制", "增加广告投放预算", "提高商品价格", "更换店铺名称"], 0)
    assert "stem-key-echo" in rules(echo)
    spread = single("W2", "为提升社群的活跃度，运营人员应优先（　）",
                    ["设计签到打卡机制", "每天群发广告链接", "只在节日发红包", "把群公告改得更长"], 0)
    assert "stem-key-echo" not in rules(spread)


def test_near_duplicates_are_named_in_pairs_with_their_score_unless_they_share_an_enemy_group():
    a = single("D1", "某外卖店铺午市曝光量 10000，进店人数 800，下单 120，进店转化率为（　）",
               ["8%", "12%", "15%", "1.2%"], 2)
    b = single("D2", "某外卖店铺午市曝光量 10000，进店人数 800，下单 120，则进店转化率为（　）",
               ["8%", "12%", "15%", "1.2%"], 2)
    other = single("D3", "直播间开播前，主播团队应准备好的物料是（　）", ["话术脚本", "灯光设备", "样品", "价格表"], 0)
    pairs = similar_pairs([a, b, other], 0.5)
    assert [(p.a, p.b) for p in pairs] == [("D1", "D2")] and pairs[0].score > 0.9
    found = [f for f in check_items([a, b, other]) if f.rule == "near-duplicate"]
    assert {(f.item, f.evidence.split()[0]) for f in found} == {("D1", "D2"), ("D2", "D1")}
    assert all(f.severity is Severity.ERROR for f in found)  # the same level, nearly identical
    grouped = [x.__class__(**{**x.__dict__, "enemy_group": "g1"}) for x in (a, b)]
    assert not [f for f in check_items([*grouped, other]) if f.rule in ("near-duplicate", "enemy-suggest")]


def test_the_tag_check_ranks_the_tagged_requirement_among_its_level():
    texts = {"530046-L1-1.1.1": "能够遵纪守法、诚实守信，严控质量，服务热情。",
             "530046-L1-2.1.1": "能根据直播间数据分析观看人数、停留时长与成交转化。",
             "530046-L1-2.1.2": "能策划社群裂变活动并设置邀请奖励。"}
    item = single("G1", "某直播间观看人数 5000，平均停留时长 40 秒，成交转化率偏低，应先分析（　）",
                  ["停留时长与成交转化的关系", "社群邀请奖励", "诚实守信", "服务热情"], 0)
    on_tag = tag_fit([item.__class__(**{**item.__dict__, "requirements": ("530046-L1-2.1.1",)})], texts)[0]
    off_tag = tag_fit([item], texts)[0]
    assert on_tag.rank == 1 and on_tag.similarity > off_tag.similarity and off_tag.rank > 1


def test_cue_strategies_score_what_they_should_on_a_bank_written_to_be_beaten():
    beaten = [single(f"S{i}", "题干（　）", ["短", "较短的", "这是一个明显更长更具体的正确答案选项", "中等长度"], 2)
              for i in range(4)]
    tf = [true_false("T1", "所有用户都必须实名。", False), true_false("T2", "转化率是比率指标。", True),
          true_false("T3", "活动一旦上线就不能修改。", False), true_false("T4", "客单价等于销售额除以订单数。", True)]
    scores = {s.strategy: s for s in cue_scores(beaten + tf)}
    assert scores["longest"].score == 1.0 and scores["longest"].chance == 0.25
    assert scores["always-C"].score == 1.0 and scores["always-A"].score == 0.0
    assert scores["absolute-false"].score == 1.0 and scores["always-true"].score == 0.5
    tie = single("S9", "题干（　）", ["一二三", "四五六", "七八", "九十"], 0)  # key ties for longest with B
    assert {s.strategy: s for s in cue_scores([tie])}["longest"].score == 0.5
