# ruff: noqa: RUF001
"""Chinese (zh-CN) texts of the dashboards, keyed by their English text (grafana/i18n.py).

Vendor terms as in Huawei's Chinese API pages (cec_07_0485 批量查询会议信息, cec_07_1290
主席申请延长会议时间, cec_07_1202 签入): 会议, 与会者, 座席 / 普通座席, 质检员, 座席工号, 签入 /
签出, 保持, 放音, 通话, 只听 / 只说 / 听说, 主席, 申请会议时长, 会议已进行时长, 延长会议时间,
错误码, VDN, Guid. Prometheus terms as its Chinese documentation: 作业 (job), 实例 (instance),
抓取 (scrape). Metric names, PromQL, method names and label values stay in English: they are
what the reader types or sees in the data. (ruff's RUF001 is off here: full-width
punctuation is correct Chinese.)
"""

from __future__ import annotations

ZH_CN: dict[str, str] = {
    # ------------------------------------------------------------------ dashboards, variables
    "CC-Gateway / Conferences overview": "CC-Gateway / 会议总览",
    "CC-Gateway / Conference detail": "CC-Gateway / 会议详情",
    "CC-Gateway / Conference activity": "CC-Gateway / 会议活动",
    "Conferences on Huawei CC-Gateways as seen by ccgw-exporter.": (
        "ccgw-exporter 所见的华为 CC-Gateway 上的会议。"
    ),
    "One conference on a Huawei CC-Gateway, as seen by ccgw-exporter.": (
        "ccgw-exporter 所见的华为 CC-Gateway 上的一个会议。"
    ),
    "How many conferences start and end on Huawei CC-Gateways, how long they last and how "
    "many run over, from ccgw-exporter's activity counters.": (
        "华为 CC-Gateway 上有多少会议开始和结束、持续多久、多少超出申请会议时长，"
        "数据来自 ccgw-exporter 的会议活动计数器。"
    ),
    "CC-Gateway dashboards": "CC-Gateway 仪表盘",
    "Data source": "数据源",
    "Job": "作业",
    "Instance": "实例",
    "Gateway": "网关",
    "Conference": "会议",
    # ------------------------------------------------------------------ rows
    "Now": "当前",
    "Conferences": "会议",
    "Gateway calls": "网关调用",
    "Collections and session": "采集与会话",
    "Last hour": "最近一小时",
    "Starts and ends": "开始与结束",
    "Durations": "时长",
    # ------------------------------------------------------------------ value mappings
    "Up": "正常",
    "Down": "不可用",
    "Partial": "部分",
    "No data from the exporter": "导出器无数据",
    "Signed in": "已签入",
    "Signed out": "已签出",
    "Not confirmed": "未确认",
    "Unknown": "未知",
    "Ordinary agent": "普通座席",
    "Quality inspector": "质检员",
    "current": "当前",
    "held": "保持",
    # ------------------------------------------------------------------ overview: now
    "Exporter": "导出器",
    "up of every scrape target of the selected jobs: the exporter's own /metrics, and with "
    "/probe one target per gateway. Red: Prometheus cannot scrape it, and the panels of its "
    "gateways have no data (CcgwExporterDown, CcgwProbeFailed).": (
        "所选作业中每个抓取目标的 up：导出器自身的 /metrics；使用 /probe 时每个网关一个目标。"
        "红色：Prometheus 无法抓取该目标，其网关的面板没有数据"
        "（CcgwExporterDown、CcgwProbeFailed）。"
    ),
    "Up: the last collection reached the gateway and every batch answered. Partial: some "
    "batches or ID sources failed (ccgw_collection_complete 0); their conferences are served "
    "from an earlier collection for a while. Down: nothing answered (ccgw_up 0). No data from "
    "the exporter: the gateway was seen in this time range but its scrape fails now.": (
        "正常：最近一次采集连上了网关，且每个批次都有应答。部分：有批次或会议 ID 来源失败"
        "（ccgw_collection_complete 为 0），这些会议在一段时间内沿用之前采集的数据。"
        "不可用：没有任何应答（ccgw_up 为 0）。导出器无数据：该网关在此时间范围内出现过，"
        "但现在抓取失败。"
    ),
    "Session": "会话",
    "Signed in: the account is signed in and a collection younger than 5 minutes reached the "
    "gateway with it. Not confirmed: the exporter holds a session but the gateway did not "
    "answer, so it may have signed the idle account out. Signed out: no session "
    "(ccgw_session_signed_in 0).": (
        "已签入：账号已签入，且 5 分钟内有一次采集用该会话连上了网关。未确认：导出器持有会话，"
        "但网关没有应答，网关可能已将空闲的座席签出。已签出：没有会话"
        "（ccgw_session_signed_in 为 0）。"
    ),
    "Account": "账号",
    "The monitoring account's role (ccgw_session_info): a quality inspector sees every "
    "conference of its VDN; an ordinary agent only its own (discovery refused with 101-004, "
    "alert CcgwDiscoveryUnavailable); unknown until discovery has answered or with discovery "
    "off.": (
        "监控账号的角色（ccgw_session_info）：质检员可以查询所在 VDN 下所有会议；普通座席只能"
        "查询自己所在的会议（会议发现返回 101-004，告警 CcgwDiscoveryUnavailable）；"
        "会议发现应答之前或关闭会议发现时为未知。"
    ),
    "Conferences now": "当前会议数",
    "Conferences the gateway reported in the last collection, those served from an earlier "
    "one included.": "网关在最近一次采集中报告的会议数，包括沿用之前采集数据的会议。",
    "Participants now": "当前与会者数",
    "Participants over all conferences.": "所有会议的与会者总数。",
    "Held participants now": "当前保持的与会者",
    "Participants whose channel is held, over all conferences.": (
        "所有会议中通道处于保持状态的与会者数。"
    ),
    "Stale conferences now": "当前沿用旧数据的会议",
    "Conferences served from an earlier collection because their batch failed in the last "
    "one (ccgw_conferences_stale). Above 0 for long: CcgwCollectionPartial.": (
        "因最近一次采集中所在批次失败而沿用之前采集数据的会议（ccgw_conferences_stale）。"
        "长时间大于 0：CcgwCollectionPartial。"
    ),
    "Exporter, gateways and sessions over time": "导出器、网关与会话随时间变化",
    "Scrape targets (red: not scraped), gateways (orange: partial collections, red: down) and "
    "sessions (orange: not confirmed, red: signed out). Gaps in a gateway's lane: no data from "
    "the exporter at that time.": (
        "抓取目标（红色：未抓取到）、网关（橙色：部分采集，红色：不可用）和会话（橙色：未确认，"
        "红色：已签出）。网关一栏中的空白：当时导出器没有数据。"
    ),
    "{{gateway}} gateway": "{{gateway}} 网关",
    "{{gateway}} session": "{{gateway}} 会话",
    # ------------------------------------------------------------------ overview: conferences
    "Conferences and participants": "会议与与会者",
    "Conferences the gateway reported and participants over all of them.": (
        "网关报告的会议数及其全部与会者数。"
    ),
    "{{gateway}} conferences": "{{gateway}} 会议",
    "{{gateway}} participants": "{{gateway}} 与会者",
    "Channel states": "通道状态",
    "Participants by channel state (talking, held, announcement) over all conferences. "
    "`unknown` counts channel states outside the vendor's table.": (
        "所有会议中按通道状态（talking 通话、held 保持、announcement 放音）统计的与会者。"
        "`unknown` 统计厂商文档之外的通道状态。"
    ),
    "Conferences nearest their applied duration": "最接近申请会议时长的会议",
    "The 15 conferences that have used the largest share of the duration they were created "
    "for (applyConfTime; confHaveBeenTime counts in whole minutes). At 100% the gateway may "
    "end the conference; above it, it has run over. Click a conference ID for its detail.": (
        "已用申请会议时长（applyConfTime）比例最高的 15 个会议（confHaveBeenTime 按整分钟计）。"
        "达到 100% 时网关可能结束会议；超过 100% 表示会议已超时。点击会议 ID 查看详情。"
    ),
    "Share used": "已用比例",
    "Participants": "与会者",
    "Elapsed": "已进行时长",
    "Applied": "申请时长",
    "Conference detail": "会议详情",
    "Top conferences by participants": "与会者最多的会议",
    "The 15 conferences with the most participants.": "与会者最多的 15 个会议。",
    "Held participants": "保持的与会者",
    "Participants on hold over all conferences. A plateau that does not go away is a caller "
    "left waiting (alert CcgwParticipantsHeldLong).": (
        "所有会议中处于保持状态的与会者。长时间不消失的平台表示有主叫在等待"
        "（告警 CcgwParticipantsHeldLong）。"
    ),
    "Conferences with held participants": "有保持与会者的会议",
    "The 15 conferences with the most participants on hold right now.": (
        "当前保持的与会者最多的 15 个会议。"
    ),
    # ------------------------------------------------------------------ overview: calls
    "Gateway answers per second by method and retcode": "按方法和错误码统计的网关每秒应答",
    'Answers by vendor method and result code. Green shades: retcode "0" (success); red '
    "shades: any other retcode that occurred (see docs/alerts.md for their meaning).": (
        '按厂商接口方法和错误码统计的应答。绿色系：retcode "0"（成功）；红色系：出现过的其他'
        "错误码（含义见 docs/alerts.md）。"
    ),
    "Non-zero result codes per second": "每秒非零错误码",
    'Only answers whose retcode is not "0", from their first occurrence on (the exporter '
    "counts every documented retcode from 0). 000-003: Guid expired or no permission; "
    "100-006: not signed in; 100-007: gateway internal error; 101-004: the account is not a "
    "quality inspector; invalid: not a retcode at all.": (
        'retcode 不为 "0" 的应答，从第一次出现起即可见（导出器对每个文档记载的错误码从 0 开始'
        "计数）。000-003：Guid 过期或无权限；100-006：座席未签入；100-007：网关内部错误；"
        "101-004：账号不是质检员；invalid：根本不是错误码。"
    ),
    "Calls without a usable answer per second": "每秒无可用应答的调用",
    "ccgw_request_errors_total by method and reason: timeout, connect, tls, http_status (e.g. "
    "a load balancer's 502, or a redirect), decode (not the vendor's JSON) or too_large (above "
    "max_response_size).": (
        "按方法和原因统计的 ccgw_request_errors_total：timeout（超时）、connect（连接）、"
        "tls、http_status（例如负载均衡返回 502，或重定向）、decode（不是厂商的 JSON）或 "
        "too_large（超过 max_response_size）。"
    ),
    "Gateway warnings per hour": "每小时网关告警事件",
    "AgentConf_Timeout events (the gateway warns that a conference's applied time is nearly "
    "used up; only conferences the account takes part in) and session conflicts (another "
    "client signed in as the account: CcgwSessionContention).": (
        "AgentConf_Timeout 事件（网关提示会议的申请时长即将用完；仅限本账号参与的会议）"
        "以及会话冲突（另一个客户端以同一座席签入：CcgwSessionContention）。"
    ),
    "{{gateway}} timeout warnings": "{{gateway}} 超时提醒",
    "{{gateway}} session conflicts": "{{gateway}} 会话冲突",
    "Call latency p50 / p95 / p99 (without getAgentEvent)": (
        "调用时延 p50 / p95 / p99（不含 getAgentEvent）"
    ),
    "Gateway call latency from ccgw_request_duration_seconds. getAgentEvent is left out: it "
    "is a long poll that answers after about 10 s when no event is queued.": (
        "来自 ccgw_request_duration_seconds 的网关调用时延。不含 getAgentEvent：它是长轮询，"
        "没有事件时约 10 秒后才应答。"
    ),
    "{{gateway}} {{method}} p50": "{{gateway}} {{method}} p50",
    "{{gateway}} {{method}} p95": "{{gateway}} {{method}} p95",
    "{{gateway}} {{method}} p99": "{{gateway}} {{method}} p99",
    # ------------------------------------------------------------------ overview: collections
    "Collection duration against its timeout": "采集耗时与超时时间",
    "Wall time of each collection (solid) and the deadline applied to it (dashed): the lower "
    "of the gateway's timeout and the scrape timeout minus 0.5 s. Above 80% of the deadline "
    "the alert CcgwCollectionNearTimeout fires. Age: how old the collection served was, above "
    "0 only when share_window answered a scrape with an earlier collection.": (
        "每次采集的耗时（实线）及其截止时间（虚线）：网关 timeout 与抓取超时减 0.5 秒中的"
        "较小值。超过截止时间的 80% 时触发告警 CcgwCollectionNearTimeout。数据年龄：所返回"
        "采集结果的时长，仅当 share_window 用之前的采集应答抓取时大于 0。"
    ),
    "{{gateway}} duration": "{{gateway}} 耗时",
    "{{gateway}} timeout": "{{gateway}} 超时",
    "{{gateway}} age": "{{gateway}} 数据年龄",
    "Conferences requested, reported, truncated and dropped": "会议：请求、报告、截断与丢弃",
    "Distinct conference IDs asked for, conferences the gateway answered, those left out of "
    "the per-conference series by max_conferences (truncated), and IDs not asked for at all "
    "because of max_ids (dropped).": (
        "请求的不同会议 ID 数、网关应答的会议数、因 max_conferences 未生成单会议指标的会议"
        "（截断），以及因 max_ids 完全没有请求的会议 ID（丢弃）。"
    ),
    "{{gateway}} requested": "{{gateway}} 请求",
    "{{gateway}} reported": "{{gateway}} 报告",
    "{{gateway}} truncated": "{{gateway}} 截断",
    "{{gateway}} dropped": "{{gateway}} 丢弃",
    "Stale conferences and their age": "沿用旧数据的会议及其年龄",
    "Conferences served from an earlier collection because their batch failed "
    "(ccgw_conferences_stale, left axis) and the age of the oldest of them (right axis). They "
    "are kept for conferences.keep_stale_for, then left out until a batch answers.": (
        "因所在批次失败而沿用之前采集数据的会议（ccgw_conferences_stale，左轴）及其中最旧的"
        "数据年龄（右轴）。最多保留 conferences.keep_stale_for，之后在批次重新应答前不再输出。"
    ),
    "{{gateway}} stale": "{{gateway}} 沿用旧数据",
    "{{gateway}} oldest age": "{{gateway}} 最旧数据年龄",
    "Failed calls per collection": "每次采集失败的调用",
    "Gateway calls that failed within one collection (any reason, any retcode).": (
        "一次采集中失败的网关调用（任何原因、任何错误码）。"
    ),
    "Sign-ins and Guid renewals per minute": "每分钟签入与 Guid 更新",
    "Sign-in attempts by retcode (0 success; 100-002 already signed in; 100-004 wrong "
    "password; 110-016 account locked) and Guids taken from Set-GUID. With dynamic "
    "authentication a Guid renewal about every GUIDINTERVAL (60 s) is normal.": (
        "按错误码统计的签入尝试（0 成功；100-002 座席已签入；100-004 用户名或密码错误；"
        "110-016 账号已锁定）以及从 Set-GUID 取得的 Guid。动态鉴权下大约每个 GUIDINTERVAL"
        "（60 秒）更新一次 Guid 属正常。"
    ),
    "{{gateway}} sign-in {{retcode}}": "{{gateway}} 签入 {{retcode}}",
    "{{gateway}} Guid renewals": "{{gateway}} Guid 更新",
    "Session conflicts and back-off": "会话冲突与退避",
    "Conflicts per hour: the session was taken by another sign-in as the same agent soon "
    "after the exporter's own (CcgwSessionContention). Back-off (right axis): seconds until "
    "the exporter may sign in again.": (
        "每小时冲突次数：导出器签入后不久，会话被同一座席的另一次签入夺走"
        "（CcgwSessionContention）。退避（右轴）：导出器可以再次签入前的秒数。"
    ),
    "{{gateway}} conflicts per hour": "{{gateway}} 每小时冲突",
    "{{gateway}} back-off": "{{gateway}} 退避",
    "Accounts": "监控账号",
    "The monitoring account of each gateway (ccgw_session_info): agent ID, VDN (from the "
    "sign-in answer), the gateway node that issued its Guid, and its role.": (
        "每个网关的监控账号（ccgw_session_info）：座席工号、VDN（来自签入应答）、签发其 Guid 的"
        "网关节点及其角色。"
    ),
    "Agent ID": "座席工号",
    "Role": "角色",
    "VDN": "VDN",
    "Node": "节点",
    "Exporter connections and refused requests": "导出器连接与拒绝的请求",
    "Open connections to the exporter's port (ccgw_exporter_http_connections) and requests "
    "it refused per minute by reason: connection_limit, header_timeout, auth_busy "
    "(verification queue full), unauthorized.": (
        "导出器端口上的打开连接数（ccgw_exporter_http_connections）以及按原因统计的每分钟拒绝"
        "请求数：connection_limit（连接数上限）、header_timeout（请求头超时）、auth_busy"
        "（认证队列已满）、unauthorized（未授权）。"
    ),
    "{{instance}} connections": "{{instance}} 连接",
    "{{instance}} refused {{reason}}": "{{instance}} 拒绝 {{reason}}",
    # ------------------------------------------------------------------ conference detail
    "State": "状态",
    "confState: talking (normal conference talk) or announcement (playing an announcement to "
    "the conference).": (
        "confState（会议状态）：talking（正常会议通话）或 announcement（会场放音）。"
    ),
    "Participants in the conference now.": "会议当前的与会者数。",
    "Held": "保持",
    "Participants of the conference whose channel is held.": "会议中通道处于保持状态的与会者数。",
    "confHaveBeenTime: how long the conference has run (whole minutes).": (
        "confHaveBeenTime：会议已进行时长（整分钟）。"
    ),
    "Applied duration used": "申请时长已用",
    "Elapsed over applied duration (applyConfTime); above 100% the conference has run past the "
    "time it was created for.": (
        "会议已进行时长与申请会议时长（applyConfTime）之比；超过 100% 表示会议已超出申请时长。"
    ),
    "Started": "开始时间",
    "startTime of the conference.": "会议开始时间（startTime）。",
    "Participants over time": "与会者随时间变化",
    "Participants in the conference.": "会议的与会者数。",
    "Conference state over time": "会议状态随时间变化",
    "confState over time: talking or announcement.": (
        "会议状态（confState）随时间变化：talking 通话或 announcement 放音。"
    ),
    "Participants by channelState: talking, held, announcement (unknown: outside the vendor's "
    "table).": (
        "按会议通道状态（channelState）统计的与会者：talking 通话、held 保持、announcement 放音"
        "（unknown：厂商文档之外的值）。"
    ),
    "Channel modes": "通道属性",
    "Participants by channelAttrib: listen, speak, listen_speak.": (
        "按会议属性（channelAttrib）统计的与会者：listen 只听、speak 只说、listen_speak 听说。"
    ),
    "Elapsed against applied duration": "已进行时长与申请会议时长",
    "confHaveBeenTime (solid) against applyConfTime (dashed), both counted in whole minutes by "
    "the gateway.": (
        "会议已进行时长 confHaveBeenTime（实线）与申请会议时长 applyConfTime（虚线），网关均按"
        "整分钟计。"
    ),
    "{{gateway}} elapsed": "{{gateway}} 已进行",
    "{{gateway}} applied": "{{gateway}} 申请",
    "Share of applied duration used": "申请会议时长已用比例",
    "Elapsed over applied duration; dashed lines at 90% (CcgwConferenceNearAppliedDuration) "
    "and 100% (CcgwConferenceOverAppliedDuration). The axis grows past 100% with the "
    "conference.": (
        "已进行时长与申请会议时长之比；虚线位于 90%（CcgwConferenceNearAppliedDuration）和 "
        "100%（CcgwConferenceOverAppliedDuration）。会议超时后纵轴随之超过 100%。"
    ),
    "Participant list": "与会者列表",
    "One row per participant, from ccgw_participant_info and "
    "ccgw_participant_enter_timestamp_seconds. Empty unless the exporter runs with participant "
    "metrics turned on (they are opt-in: addresses are phone numbers).": (
        "每个与会者一行，来自 ccgw_participant_info 和 ccgw_participant_enter_timestamp_seconds。"
        "仅当导出器开启与会者指标时才有数据（默认关闭：地址是电话号码）。"
    ),
    "Address": "地址",
    "Type": "地址类型",
    "Channel": "通道状态",
    "Mode": "通道属性",
    "Device": "设备类型",
    "Call type": "设备呼叫类型",
    "Entered": "加入时间",
    # ------------------------------------------------------------------ activity
    "Started in the last hour": "最近一小时开始的会议",
    "Conferences first seen in the last hour, over the selected gateways "
    "(gateway:ccgw_conferences_started:increase1h). Conferences shorter than the scrape "
    "interval can be missed.": (
        "所选网关在最近一小时内首次出现的会议（gateway:ccgw_conferences_started:increase1h）。"
        "短于抓取间隔的会议可能被漏计。"
    ),
    "started": "开始",
    "Ended in the last hour": "最近一小时结束的会议",
    "Conferences gone from a complete answer in the last hour, within or over their applied "
    "duration. A conference missing because its batch failed has not ended.": (
        "最近一小时内从完整应答中消失的会议，包括未超出和超出申请会议时长的。因批次失败而缺失的"
        "会议不算结束。"
    ),
    "ended": "结束",
    "Ended over their applied duration": "超出申请会议时长结束的比例",
    "Share of the conferences ended in the last hour that had run past the duration they were "
    "created for when last seen. No data: none ended.": (
        "最近一小时结束的会议中，最后一次看到时已超出申请会议时长的比例。无数据：没有会议结束。"
    ),
    "over applied": "超时",
    "Median duration (last hour)": "时长中位数（最近一小时）",
    "Median final duration of the conferences that ended in the last hour, per gateway "
    "(gateway:ccgw_conference_duration_seconds:p50_rate1h).": (
        "每个网关最近一小时结束的会议最终时长的中位数"
        "（gateway:ccgw_conference_duration_seconds:p50_rate1h）。"
    ),
    "Conferences started and ended per hour": "每小时开始与结束的会议",
    "Started, and ended by outcome (within_applied: within their applied duration, "
    "over_applied: past it), each over the hour before the point.": (
        "开始的会议，以及按结果统计的结束会议（within_applied：未超出申请会议时长；"
        "over_applied：超出），均为该时间点之前一小时的数量。"
    ),
    "{{gateway}} started": "{{gateway}} 开始",
    "{{gateway}} ended {{outcome}}": "{{gateway}} 结束 {{outcome}}",
    "Over-applied ratio": "超时结束比例",
    "Share of the conferences ended in the hour before each point that had run past their "
    "applied duration (gateway:ccgw_conferences_ended_over_applied:ratio_increase1h). Gaps: no "
    "conference ended.": (
        "每个时间点之前一小时结束的会议中超出申请会议时长的比例"
        "（gateway:ccgw_conferences_ended_over_applied:ratio_increase1h）。空白：没有会议结束。"
    ),
    "Prolongations and timeout warnings per hour": "每小时延长会议与超时提醒",
    "Applied durations raised while the conference ran (prolongtime), and the gateway's "
    "AgentConf_Timeout warnings that a conference's time is nearly up.": (
        "会议进行中被延长的申请会议时长（prolongtime，延长会议时间），以及网关提示会议时长即将"
        "用完的 AgentConf_Timeout 事件。"
    ),
    "{{gateway}} prolongations": "{{gateway}} 延长",
    "Participants joined and left per hour": "每小时加入与离开的与会者",
    "Participants that appeared in and disappeared from conferences between collections, "
    "those of ended conferences included.": (
        "两次采集之间加入和离开会议的与会者，包括已结束会议的与会者。"
    ),
    "{{gateway}} joined": "{{gateway}} 加入",
    "{{gateway}} left": "{{gateway}} 离开",
    "Duration of ended conferences": "已结束会议的时长",
    "How long the conferences that ended ran (ccgw_conference_duration_seconds; whole minutes "
    "as the gateway counts them, up to its 1440-minute limit). Colour: conferences per hour "
    "ending in that duration bucket.": (
        "已结束会议的进行时长（ccgw_conference_duration_seconds；网关按整分钟计，最长 1440 分钟）。"
        "颜色：每小时在该时长区间结束的会议数。"
    ),
    "Share of applied duration used at the end": "结束时申请会议时长的已用比例",
    "Elapsed over applied duration of the conferences that ended, when last seen "
    "(ccgw_conference_applied_share). Rows above 1 ran past the time they were created for.": (
        "已结束会议最后一次看到时的已进行时长与申请会议时长之比（ccgw_conference_applied_share）。"
        "高于 1 的行表示超出了申请时长。"
    ),
    "Duration p50 / p90 and mean": "时长 p50 / p90 与平均值",
    "Final duration of the conferences that ended in the hour before each point.": (
        "每个时间点之前一小时结束的会议的最终时长。"
    ),
    "{{gateway}} p50": "{{gateway}} p50",
    "{{gateway}} p90": "{{gateway}} p90",
    "{{gateway}} mean": "{{gateway}} 平均",
    "Share of applied duration used, p50 / p90": "申请会议时长已用比例 p50 / p90",
    "Share of the applied duration the conferences that ended in the hour before each point "
    "had used; dashed line at 100%. Not clipped: above 100% they ran over.": (
        "每个时间点之前一小时结束的会议已用申请会议时长的比例；虚线位于 100%。不截断：超过 100% "
        "表示超时。"
    ),
    "Peak participants p50 / p90": "与会者峰值 p50 / p90",
    "Most participants seen at once in the conferences that ended in the hour before each "
    "point (ccgw_conference_peak_participants).": (
        "每个时间点之前一小时结束的会议中同时出现的最多与会者数"
        "（ccgw_conference_peak_participants）。"
    ),
    "Peak participants of ended conferences": "已结束会议的与会者峰值",
    "Most participants seen at once per ended conference. Colour: conferences per hour ending "
    "with that peak.": "每个已结束会议同时出现的最多与会者数。颜色：每小时以该峰值结束的会议数。",
}
